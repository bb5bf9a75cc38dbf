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

/// What is wrong with a topic or pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// No bytes.
    Empty,
    /// A leading, trailing or doubled `.`.
    EmptyToken {
        /// Which token.
        index: usize,
    },
    /// A space, a control byte or a byte beyond ASCII.
    InvalidByte {
        /// Where.
        offset: usize,
    },
    /// `*` or `>` inside a token.
    PartialWildcard {
        /// Which token.
        index: usize,
    },
    /// `>` before the last token.
    TailNotLast,
    /// A wildcard where only a topic may stand.
    WildcardInTopic,
    /// The first token starts with `$` or is `_INBOX` (reserved by NATS).
    Reserved,
    /// More than [`MAX_TOPIC_BYTES`] bytes.
    TooLong,
    /// More than [`MAX_TOPIC_TOKENS`] tokens.
    TooManyTokens,
}

/// The one wording of each violation, for run-time errors and compile-time
/// diagnostics alike.
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Empty => f.write_str("the topic is empty"),
            Violation::EmptyToken { index } => {
                write!(f, "token {index} is empty (a leading, trailing or doubled `.`)")
            }
            Violation::InvalidByte { offset } => {
                write!(f, "byte {offset} is not printable ASCII (spaces and control bytes are not allowed)")
            }
            Violation::PartialWildcard { index } => write!(f, "token {index} mixes a wildcard with other bytes"),
            Violation::TailNotLast => f.write_str("`>` must be the last token"),
            Violation::WildcardInTopic => {
                f.write_str("wildcards (`*` and `>`) are only allowed in subscription patterns, not in a topic")
            }
            Violation::Reserved => {
                f.write_str("the first token cannot start with `$` or be `_INBOX` (reserved by NATS)")
            }
            Violation::TooLong => write!(f, "longer than {MAX_TOPIC_BYTES} bytes"),
            Violation::TooManyTokens => write!(f, "more than {MAX_TOPIC_TOKENS} tokens"),
        }
    }
}

/// Checks the grammar; `wildcards` allows `*` and `>` tokens. Allocates
/// nothing (it runs on publishes).
pub fn check(text: &str, wildcards: bool) -> Result<(), Violation> {
    if text.is_empty() {
        return Err(Violation::Empty);
    }
    if text.len() > MAX_TOPIC_BYTES {
        return Err(Violation::TooLong);
    }
    if let Some(offset) = text.bytes().position(|byte| !(0x21..=0x7E).contains(&byte)) {
        return Err(Violation::InvalidByte { offset });
    }
    let count = text.split('.').count();
    if count > MAX_TOPIC_TOKENS {
        return Err(Violation::TooManyTokens);
    }
    for (index, token) in text.split('.').enumerate() {
        if index == 0 && (token.starts_with('$') || token == "_INBOX") {
            return Err(Violation::Reserved);
        }
        match token {
            "" => return Err(Violation::EmptyToken { index }),
            "*" | ">" if !wildcards => return Err(Violation::WildcardInTopic),
            ">" if index + 1 != count => return Err(Violation::TailNotLast),
            "*" | ">" => {}
            _ if token.contains(['*', '>']) => {
                return Err(if wildcards { Violation::PartialWildcard { index } } else { Violation::WildcardInTopic })
            }
            _ => {}
        }
    }
    Ok(())
}
