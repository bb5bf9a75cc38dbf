//! Dead letters as they happen: an actor (kind `treeline-observer`)
//! subscribed to the System's `DeadLetter` events keeps the latest ones.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use treeline::dead_letter::DeadLetter;
use treeline::{Actor, ActorRef, Context, ExitReason, HandleEvent, InitError, SpawnOptions, System};

/// How many dead letters the log keeps.
const KEPT: usize = 200;

/// One dead letter, as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DeadLetterRow {
    /// Numbered from 1 as they arrive.
    pub(crate) seq: u64,
    pub(crate) to: u64,
    pub(crate) message_type: &'static str,
    pub(crate) kind: String,
    pub(crate) reason: String,
}

/// The kept rows, and how many there were in all.
#[derive(Default)]
pub(crate) struct Kept {
    rows: VecDeque<DeadLetterRow>,
    next: u64,
}

/// The log, shared by its actor and the server.
#[derive(Clone)]
pub(crate) struct DeadLetterLog {
    kept: Arc<Mutex<Kept>>,
    actor: Arc<Mutex<Option<ActorRef<Logger>>>>,
}

impl DeadLetterLog {
    /// Starts the logging actor (if the System takes it: a stopping System
    /// has no dead letters to show anyway).
    pub(crate) async fn start(system: &System) -> DeadLetterLog {
        let kept = Arc::new(Mutex::new(Kept::default()));
        let options = SpawnOptions::new().kind("treeline-observer");
        let actor = system.spawn_with::<Logger>(kept.clone(), options).await.ok();
        DeadLetterLog { kept, actor: Arc::new(Mutex::new(actor)) }
    }

    /// The latest dead letters, oldest first, with their total count.
    pub(crate) fn latest(&self) -> (u64, Vec<DeadLetterRow>) {
        let kept = self.kept.lock();
        (kept.next, kept.rows.iter().cloned().collect())
    }

    pub(crate) fn stop(&self) {
        if let Some(actor) = self.actor.lock().take() {
            actor.kill();
        }
    }
}

pub(crate) struct Logger {
    kept: Arc<Mutex<Kept>>,
}

impl Actor for Logger {
    type Args = Arc<Mutex<Kept>>;

    async fn init(kept: Arc<Mutex<Kept>>, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.subscribe::<DeadLetter>().map_err(|error| InitError::Stop(ExitReason::error(error)))?;
        Ok(Logger { kept })
    }
}

impl HandleEvent<DeadLetter> for Logger {
    async fn handle_event(&mut self, letter: DeadLetter, _: &mut Context<Self>) -> Result<(), ExitReason> {
        let mut kept = self.kept.lock();
        kept.next += 1;
        let row = DeadLetterRow {
            seq: kept.next,
            to: letter.to.as_u64(),
            message_type: letter.message_type,
            kind: letter.kind.to_string(),
            reason: letter.reason.to_string(),
        };
        if kept.rows.len() == KEPT {
            kept.rows.pop_front();
        }
        kept.rows.push_back(row);
        Ok(())
    }
}
