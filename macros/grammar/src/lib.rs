//! The topic grammar and its messages, in one place: the runtime
//! (`treeline::Topic`, checked at run time) and the `#[derive(Event)]` macro
//! (checked at compile time) both depend on this crate, so the two cannot
//! drift. Topics are the subset of NATS subjects that maps one to one onto
//! them.

use std::fmt;

/// Bytes a topic may have at most.
pub const MAX_TOPIC_BYTES: usize = 200;
/// Tokens a topic may have at most.
pub const MAX_TOPIC_TOKENS: usize = 16;

/// Why a string is not a valid topic or pattern (re-exported by treeline
/// as `treeline::TopicError`).
///
/// ```
/// use treeline_grammar::{check, TopicError};
///
/// assert_eq!(check("orders..placed", false), Err(TopicError::EmptyToken { index: 1 }));
/// assert_eq!(check("orders.*", false), Err(TopicError::WildcardInTopic));
/// assert_eq!(check("orders.*", true), Ok(()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicError {
    /// The empty string.
    Empty,
    /// A token (counted from 0) is empty: a leading, trailing or doubled `.`.
    EmptyToken {
        /// Which token.
        index: usize,
    },
    /// A byte outside printable ASCII, at this byte offset.
    InvalidByte {
        /// Where.
        offset: usize,
    },
    /// `*` or `>` inside a token (they must be whole tokens).
    PartialWildcard {
        /// Which token.
        index: usize,
    },
    /// `>` before the last token.
    TailNotLast,
    /// A wildcard in a topic that an event is published on.
    WildcardInTopic,
    /// The first token starts with `$` or is `_INBOX` (reserved by NATS).
    Reserved,
    /// More than [`MAX_TOPIC_BYTES`] bytes.
    TooLong,
    /// More than [`MAX_TOPIC_TOKENS`] tokens.
    TooManyTokens,
}

impl std::error::Error for TopicError {}

/// The one wording of each error, for run-time errors and compile-time
/// diagnostics alike.
impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicError::Empty => f.write_str("the topic is empty"),
            TopicError::EmptyToken { index } => {
                write!(f, "token {index} is empty (a leading, trailing or doubled `.`)")
            }
            TopicError::InvalidByte { offset } => {
                write!(f, "byte {offset} is not printable ASCII (spaces and control bytes are not allowed)")
            }
            TopicError::PartialWildcard { index } => write!(f, "token {index} mixes a wildcard with other bytes"),
            TopicError::TailNotLast => f.write_str("`>` must be the last token"),
            TopicError::WildcardInTopic => {
                f.write_str("wildcards (`*` and `>`) are only allowed in subscription patterns, not in a topic")
            }
            TopicError::Reserved => {
                f.write_str("the first token cannot start with `$` or be `_INBOX` (reserved by NATS)")
            }
            TopicError::TooLong => write!(f, "longer than {MAX_TOPIC_BYTES} bytes"),
            TopicError::TooManyTokens => write!(f, "more than {MAX_TOPIC_TOKENS} tokens"),
        }
    }
}

/// Checks the grammar; `wildcards` allows `*` and `>` tokens. Allocates
/// nothing (it runs on publishes).
pub fn check(text: &str, wildcards: bool) -> Result<(), TopicError> {
    if text.is_empty() {
        return Err(TopicError::Empty);
    }
    if text.len() > MAX_TOPIC_BYTES {
        return Err(TopicError::TooLong);
    }
    if let Some(offset) = text.bytes().position(|byte| !(0x21..=0x7E).contains(&byte)) {
        return Err(TopicError::InvalidByte { offset });
    }
    let count = text.split('.').count();
    if count > MAX_TOPIC_TOKENS {
        return Err(TopicError::TooManyTokens);
    }
    for (index, token) in text.split('.').enumerate() {
        if index == 0 && (token.starts_with('$') || token == "_INBOX") {
            return Err(TopicError::Reserved);
        }
        match token {
            "" => return Err(TopicError::EmptyToken { index }),
            "*" | ">" if !wildcards => return Err(TopicError::WildcardInTopic),
            ">" if index + 1 != count => return Err(TopicError::TailNotLast),
            "*" | ">" => {}
            _ if token.contains(['*', '>']) => {
                return Err(if wildcards { TopicError::PartialWildcard { index } } else { TopicError::WildcardInTopic })
            }
            _ => {}
        }
    }
    Ok(())
}
