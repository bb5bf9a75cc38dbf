//! Compile-time guarantees of the public API: handles are `Send + Sync`,
//! cheap ids are `Copy`, and errors are real `std::error::Error`s.

#![allow(dead_code)]

use treeline::actor::{ConfigError, StartError, TimerRef};
use treeline::addr::{Recipient, StopError};
use treeline::durable::{
    CodecError, Consume, Delivery, DurableError, DurableQueue, DurableSubscription, JournalConfig, Retention, StartFrom,
};
use treeline::journal::{FileStorage, JournalError, MemStorage};
use treeline::mailbox::MailboxFull;
use treeline::signal::MonitorRef;
use treeline::test_util::FaultyStorage;
use treeline::*;

fn send_sync<T: Send + Sync>() {}
fn copy_eq_hash<T: Copy + Eq + std::hash::Hash + std::fmt::Display>() {}
fn error<E: std::error::Error + Send + Sync + 'static>() {}

struct Probe;
impl Actor for Probe {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Probe)
    }
}

/// A message that is `Send` but not `Sync`: handles stay `Sync` anyway.
struct NotSync(std::cell::Cell<u8>);

#[test]
fn handles_are_send_and_sync() {
    send_sync::<ActorRef<Probe>>();
    send_sync::<Pid>();
    send_sync::<Recipient<u64>>();
    send_sync::<Recipient<NotSync>>();
    send_sync::<System>();
    send_sync::<ExitReason>();
    send_sync::<TimerRef>();
    send_sync::<ReplyTo<u64>>();
    send_sync::<Reply<u64>>();
    send_sync::<DurableQueue<NotSyncDurable>>();
    send_sync::<DurableSubscription<u64>>();
    send_sync::<JournalConfig>();
    send_sync::<FaultyStorage>();
    send_sync::<MemStorage>();
    send_sync::<FileStorage>();
}

/// A durable message that is `Send` but not `Sync`: queue handles stay `Sync`.
struct NotSyncDurable(std::cell::Cell<u8>);
impl Durable for NotSyncDurable {
    const TAG: &'static str = "NotSyncDurable";
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(self.0.get());
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(NotSyncDurable(std::cell::Cell::new(bytes[0])))
    }
}

#[test]
fn ids_are_cheap_values() {
    copy_eq_hash::<ActorId>();
    copy_eq_hash::<MonitorRef>();
    fn copy_eq<T: Copy + Eq + std::fmt::Debug>() {}
    copy_eq::<Delivery>();
    copy_eq::<Consume>();
    copy_eq::<StartFrom>();
    copy_eq::<Retention>();
}

#[test]
fn errors_are_std_errors() {
    error::<CallError>();
    error::<StopError>();
    error::<StartError>();
    error::<SendError<u64>>();
    error::<MailboxFull>();
    error::<ConfigError>();
    error::<DurableError>();
    error::<JournalError>();
    error::<CodecError>();
}

#[test]
fn futures_of_the_api_are_send() {
    fn send<F: std::future::Future + Send>(_: F) {}
    let system = System::new();
    send(system.spawn::<Probe>(()));
    send(system.shutdown());
}
