//! Tracing: a span per actor and per message, and a dead-letter event, seen
//! through a minimal capturing subscriber.
//!
//! A test binary of its own: tracing caches callsite interest process-wide,
//! so a thread-scoped subscriber can miss spans while other tests run
//! without one.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::*;

/// Records "span:<name>{fields}" and "event:<target>{fields}".
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?};", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={};", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(String::new());
        span.record(&mut fields);
        let mut seen = self.0.lock().unwrap();
        seen.push(format!("span:{}{{{}}}", span.metadata().name(), fields.0));
        Id::from_u64(seen.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(format!("event:{}{{{}}}", event.metadata().target(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

struct Traced;
impl Actor for Traced {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Traced)
    }
}
struct Hello;
impl HandleCast<Hello> for Traced {
    async fn handle_cast(&mut self, _: Hello, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}
struct Ask;
impl HandleCall<Ask> for Traced {
    type Reply = ();
    async fn handle_call(&mut self, _: Ask, _: &mut Context<Self>) -> Reply<()> {
        Reply::new(())
    }
}

#[tokio::test(start_paused = true)]
async fn actors_and_messages_run_in_spans_and_dead_letters_are_events() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let system = System::new();
    let actor = system.spawn::<Traced>(()).await.unwrap();
    actor.cast(Hello).await.unwrap();
    actor.call(Ask).await.unwrap();
    let options = SpawnOptions::new().mailbox(MailboxConfig::bounded(1, Overflow::DropNewest));
    let full = system.spawn_with::<Traced>((), options).await.unwrap();
    full.try_cast(Hello).unwrap();
    full.try_cast(Hello).unwrap(); // shed
    system.shutdown().await;

    let seen = capture.0.lock().unwrap().clone();
    let id = actor.id();
    assert!(seen.iter().any(|s| s.starts_with(&format!("span:actor{{id={id};actor="))), "{seen:#?}");
    assert!(seen.iter().any(|s| s.starts_with("span:message{kind=cast;message=") && s.contains("Hello")), "{seen:#?}");
    assert!(seen.iter().any(|s| s.starts_with("span:message{kind=call;message=") && s.contains("Ask")), "{seen:#?}");
    let dead_letter = format!("event:treeline::dead_letter{{message=dead letter;actor={};", full.id());
    assert!(seen.iter().any(|s| s.starts_with(&dead_letter) && s.contains("reason=mailbox full")), "{seen:#?}");
}
