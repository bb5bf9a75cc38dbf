//! Topic names: a strict subset of NATS subject syntax, so topics map to
//! NATS subjects 1:1 with no escaping.
//!
//! * Tokens are separated by `.`; a token is one or more bytes of printable
//!   ASCII (`0x21..=0x7E`) other than `.`, `*` and `>`.
//! * In a [`Pattern`] (what subscribers give), `*` matches exactly one token
//!   and `>` one or more, and each is a whole token; `>` only last.
//! * A [`Topic`] (what an event is published on) has no wildcards.
//! * The first token does not start with `$` and is not `_INBOX`; at most 16
//!   tokens and 200 bytes.
//!
//! Anything else is a [`TopicError`].

use std::fmt;
use std::sync::Arc;

pub use treeline_grammar::{TopicError, MAX_TOPIC_BYTES, MAX_TOPIC_TOKENS};

/// Checks the grammar; `wildcards` allows `*` and `>` tokens. Allocates
/// nothing (it runs on publishes).
pub(crate) fn validate(text: &str, wildcards: bool) -> Result<(), TopicError> {
    treeline_grammar::check(text, wildcards)
}

/// A topic an event is published on: no wildcards.
///
/// ```
/// use treeline::topic::Topic;
///
/// let topic = Topic::new("orders.placed").unwrap();
/// assert_eq!(topic.as_str(), "orders.placed");
/// assert!(Topic::new("$SYS.x").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(Arc<str>);

impl Topic {
    /// Validates `text` as a topic.
    pub fn new(text: &str) -> Result<Topic, TopicError> {
        validate(text, false)?;
        Ok(Topic(Arc::from(text)))
    }

    /// The topic as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A pattern without wildcards is a valid topic.
    pub(crate) fn from_pattern(pattern: &Pattern) -> Topic {
        debug_assert!(!pattern.has_wildcards());
        Topic(pattern.0.clone())
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({:?})", &*self.0)
    }
}

/// A subscription pattern: a topic that may use `*` (one token) and `>`
/// (one or more tokens, last only).
///
/// ```
/// use treeline::topic::{Pattern, Topic};
///
/// let topic = Topic::new("orders.eu.placed").unwrap();
/// assert!(Pattern::new("orders.*.placed").unwrap().matches(&topic));
/// assert!(Pattern::new("orders.>").unwrap().matches(&topic));
/// assert!(!Pattern::new("orders.*").unwrap().matches(&topic));
/// assert!(!Pattern::new("orders.eu.placed.>").unwrap().matches(&topic));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern(Arc<str>);

impl Pattern {
    /// Validates `text` as a pattern.
    pub fn new(text: &str) -> Result<Pattern, TopicError> {
        validate(text, true)?;
        Ok(Pattern(Arc::from(text)))
    }

    /// The pattern as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True if the pattern has a wildcard token.
    pub fn has_wildcards(&self) -> bool {
        self.0.split('.').any(|token| token == "*" || token == ">")
    }

    /// Whether a published topic matches this pattern.
    pub fn matches(&self, topic: &Topic) -> bool {
        let mut subject = topic.0.split('.');
        for token in self.0.split('.') {
            match token {
                ">" => return subject.next().is_some(),
                "*" => {
                    if subject.next().is_none() {
                        return false;
                    }
                }
                literal => {
                    if subject.next() != Some(literal) {
                        return false;
                    }
                }
            }
        }
        subject.next().is_none()
    }
}

impl From<Topic> for Pattern {
    fn from(topic: Topic) -> Pattern {
        Pattern(topic.0)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", &*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_topics_and_patterns() {
        for text in ["orders", "orders.placed", "account:42", "a.b.c-d_e", "x.y.z.w"] {
            assert!(Topic::new(text).is_ok(), "{text}");
            assert!(Pattern::new(text).is_ok(), "{text}");
        }
        for text in ["orders.*", "orders.>", "*", ">", "*.placed", "a.*.c.>"] {
            assert!(Pattern::new(text).is_ok(), "{text}");
            assert_eq!(Topic::new(text).unwrap_err(), TopicError::WildcardInTopic, "{text}");
        }
    }

    #[test]
    fn invalid_strings_get_their_own_error() {
        assert_eq!(Topic::new("").unwrap_err(), TopicError::Empty);
        assert_eq!(Topic::new(".a").unwrap_err(), TopicError::EmptyToken { index: 0 });
        assert_eq!(Topic::new("a.").unwrap_err(), TopicError::EmptyToken { index: 1 });
        assert_eq!(Topic::new("a b").unwrap_err(), TopicError::InvalidByte { offset: 1 });
        assert_eq!(Topic::new("a.é").unwrap_err(), TopicError::InvalidByte { offset: 2 });
        assert_eq!(Pattern::new("a.>.b").unwrap_err(), TopicError::TailNotLast);
        assert_eq!(Pattern::new("a.b*").unwrap_err(), TopicError::PartialWildcard { index: 1 });
        assert_eq!(Topic::new("a.b*").unwrap_err(), TopicError::WildcardInTopic);
        assert_eq!(Topic::new("$SYS.x").unwrap_err(), TopicError::Reserved);
        assert_eq!(Topic::new("_INBOX.x").unwrap_err(), TopicError::Reserved);
        assert_eq!(Topic::new(&"a".repeat(201)).unwrap_err(), TopicError::TooLong);
        assert_eq!(Topic::new(&vec!["a"; 17].join(".")).unwrap_err(), TopicError::TooManyTokens);
        assert!(Topic::new(&vec!["a"; 16].join(".")).is_ok());
    }

    #[test]
    fn wildcards_match_as_in_nats() {
        let matches = |pattern: &str, topic: &str| Pattern::new(pattern).unwrap().matches(&Topic::new(topic).unwrap());
        assert!(matches("orders.*", "orders.placed"));
        assert!(!matches("orders.*", "orders"));
        assert!(!matches("orders.*", "orders.eu.placed"));
        assert!(matches("orders.>", "orders.eu.placed"));
        assert!(!matches("orders.>", "orders"));
        assert!(matches(">", "anything.at.all"));
        assert!(matches("*.placed", "orders.placed"));
        assert!(!matches("orders.placed", "orders.placed.x"));
        assert!(matches("orders.placed", "orders.placed"));
    }
}
