//! Crash reports: one `tracing` event at `error` for every actor that ends
//! abnormally by its own doing (OTP's crash report and gen_server's
//! "terminating" report in one).
//!
//! Reported: a handler that returned an abnormal reason or panicked, a stop
//! the actor asked for with an abnormal reason, a `terminate` or state
//! `Drop` that panicked, and a stop with an abnormal reason requested from
//! outside (OTP's `gen_server:stop(Pid, Reason)` logs one too). Not
//! reported: the expected exits (`Normal`, `Shutdown`, `ShutdownWith`), a
//! kill, and a death caused by an exit signal the actor did not trap (the
//! actor ran no code: the crash that caused it has its own report). A
//! supervisor's restarts and give-ups are reported by the supervisor
//! (`supervisor/report.rs`).
//!
//! The event's target is `treeline::crash`; its fields name the actor (id,
//! kind, type, registered names), its supervisor (parent), the message it
//! was handling and the reason, with a panic's location. The message is a
//! sentence, so a plain `fmt` subscriber prints one readable line.

use crate::addr::ActorId;
use crate::cell::ActorCell;
use crate::exit::ExitReason;
use crate::registry::Registration;

use super::Actor;

/// Reports `reason` for `cell` if it is a crash worth reporting.
#[cold]
#[inline(never)]
pub(crate) fn crashed<A: Actor>(cell: &ActorCell<A>, reason: &ExitReason, handling: bool) {
    if reason.is_expected() || matches!(reason, ExitReason::Killed | ExitReason::Kill) {
        return;
    }
    let names: Vec<String> = cell
        .holdings
        .snapshot()
        .into_iter()
        .filter_map(|held| match held {
            Registration::Name(name) => Some(name.to_string()),
            _ => None,
        })
        .collect();
    let kind = cell.kind_name();
    let message = handling.then(|| cell.current.get()).flatten();
    let location = match reason {
        ExitReason::Panic(panic) => panic.location(),
        _ => None,
    };
    let supervisor = (cell.parent != ActorId::SYSTEM).then_some(cell.parent);
    let while_handling = match message {
        Some(meta) => format!(" while handling {} {}", meta.kind(), meta.message_type()),
        None => String::new(),
    };
    let at = location.map(|at| format!(" at {at}")).unwrap_or_default();
    tracing::error!(
        target: "treeline::crash",
        actor = %cell.id,
        kind,
        actor_type = std::any::type_name::<A>(),
        names = (!names.is_empty()).then(|| names.join(", ")),
        supervisor = supervisor.map(tracing::field::display),
        message_kind = message.map(|meta| meta.kind().as_str()),
        message_type = message.map(|meta| meta.message_type()),
        reason = %reason,
        location,
        "actor {kind} {} crashed{while_handling}: {reason}{at}",
        cell.id,
    );
}

/// The last segment of a type's path, generics kept:
/// `shop::billing::Billing` is `Billing`, `a::Pool<b::Conn>` is `Pool<b::Conn>`.
pub(crate) fn short_type_name(full: &str) -> &str {
    // One pass over the bytes (it runs per spawn and stop with metrics on;
    // `str::find` and `rfind("::")` cost a few hundred instructions).
    let bytes = full.as_bytes();
    let mut start = 0;
    for at in 0..bytes.len() {
        match bytes[at] {
            b'<' => break,
            b':' if bytes.get(at + 1) == Some(&b':') => start = at + 2,
            _ => {}
        }
    }
    &full[start..]
}

/// A type's name with every path stripped, generics included:
/// `a::Pool<b::Conn>` is `Pool<Conn>` (for kinds made once, not per message).
pub(crate) fn bare_type_name(full: &str) -> String {
    let mut bare = String::with_capacity(full.len());
    let mut segment = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            bare.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            bare.push(c);
        }
    }
    bare.push_str(segment.rsplit("::").next().unwrap_or(""));
    bare
}

#[cfg(test)]
mod tests {
    use super::{bare_type_name, short_type_name};

    #[test]
    fn bare_names_strip_every_path() {
        assert_eq!(
            bare_type_name("treeline::supervisor::DynamicSupervisor<shop::Session>"),
            "DynamicSupervisor<Session>"
        );
        assert_eq!(bare_type_name("a::Pair<b::X, c::Y<d::Z>>"), "Pair<X, Y<Z>>");
        assert_eq!(bare_type_name("Plain"), "Plain");
    }

    #[test]
    fn short_names_keep_the_last_segment_and_generics() {
        assert_eq!(short_type_name("shop::billing::Billing"), "Billing");
        assert_eq!(short_type_name("Billing"), "Billing");
        assert_eq!(short_type_name("a::Pool<b::Conn>"), "Pool<b::Conn>");
    }
}
