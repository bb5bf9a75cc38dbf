// The topic grammar, shared by the runtime (`treeline::Topic`) and the
// `#[derive(Event)]` macro through `include!`, so the two cannot drift.
// Topics are the subset of NATS subjects that maps 1:1 onto them.

/// Bytes a topic may have at most.
pub const MAX_TOPIC_BYTES: usize = 200;
/// Tokens a topic may have at most.
pub const MAX_TOPIC_TOKENS: usize = 16;

/// What is wrong with a topic or pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    Empty,
    EmptyToken { index: usize },
    InvalidByte { offset: usize },
    PartialWildcard { index: usize },
    TailNotLast,
    WildcardInTopic,
    Reserved,
    TooLong,
    TooManyTokens,
}

/// Checks the grammar; `wildcards` allows `*` and `>` tokens. Allocates
/// nothing (it runs on publishes).
pub(crate) fn check(text: &str, wildcards: bool) -> Result<(), Violation> {
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
