//! Admission: opening queues, and persisting messages and events (a message
//! becomes deliverable once the journal confirms it).

use tokio::sync::oneshot;

use crate::durable::error::DurableError;
use crate::durable::records::{create_payload, id_payload, message_at, Role, CREATE, ENQUEUE, ENQUEUE_ID};
use crate::journal::record::{FrameError, Loc, OwnedRecord, HEADER};
use crate::journal::segment::JournalError;
use crate::topic::{Pattern, Topic};

use super::*;

pub(super) fn describe(role: &Role) -> String {
    match role {
        Role::Mailbox => "a durable queue".to_owned(),
        Role::Subscription(pattern) => format!("a durable subscription to {pattern:?}"),
        Role::Log(keep) => format!("an event log keeping {keep} events"),
    }
}

/// Waits for an append's confirmation.
pub(super) async fn wait<T>(confirm: oneshot::Receiver<Result<T, JournalError>>) -> Result<T, DurableError> {
    match confirm.await {
        Ok(result) => result.map_err(DurableError::from),
        Err(_) => Err(DurableError::Closed),
    }
}

impl Store {
    /// Creates the queue `name` for messages tagged `tag` in `role`, or
    /// opens it if it exists as such; a creation is confirmed durable before
    /// this returns. A new subscription starting before "now" is filled from
    /// the event log of its type (in the same step, so no publish is missed
    /// or doubled).
    pub(crate) async fn open_queue(
        &self,
        name: &str,
        tag: &str,
        role: Role,
        start: Start,
    ) -> Result<QueueId, DurableError> {
        if name.is_empty() || name.len() > usize::from(u16::MAX) || tag.len() > usize::from(u16::MAX) {
            return Err(DurableError::InvalidName(name.to_owned()));
        }
        let created = self.run(|state, out| {
            if let Some(&id) = state.names.get(name) {
                let queue = &state.queues[&id];
                if queue.tag != tag {
                    return Err(DurableError::TypeMismatch {
                        queue: name.to_owned(),
                        stored: queue.tag.clone(),
                        requested: tag.to_owned(),
                    });
                }
                if queue.role != role {
                    return Err(DurableError::Conflict { queue: name.to_owned(), existing: describe(&queue.role) });
                }
                return Ok((id, None, Vec::new()));
            }
            let replay = match (&role, start) {
                (Role::Subscription(pattern), Start::Origin | Start::Seq(_)) => {
                    let from = match start {
                        Start::Seq(raw) => Seq::new(raw).unwrap_or(Seq::FIRST),
                        _ => Seq::FIRST,
                    };
                    let Some(log) = find_log(state, tag) else {
                        return Err(DurableError::NoHistory { queue: name.to_owned() });
                    };
                    self.history(state, log, from, &Pattern::new(pattern).expect("validated by the caller"))?
                }
                _ => Vec::new(),
            };
            let Some(id) = state.next_stream else {
                return Err(DurableError::QueueIdsExhausted { queue: name.to_owned() });
            };
            state.next_stream = id.next();
            let queue = QueueState::new(name.into(), tag.to_owned(), role.clone());
            state.names.insert(queue.name.clone(), id);
            state.queues.insert(id, queue);
            let (tx, rx) = oneshot::channel();
            let me = self.me.clone();
            let payload = create_payload(name, tag, &role);
            out.extra.push((
                vec![OwnedRecord { kind: CREATE, stream: id.stream(), seq: Seq::FIRST.get(), payload }],
                Box::new(move |result: Result<Loc, JournalError>| {
                    if let (Ok(loc), Some(store)) = (&result, me.upgrade()) {
                        store.run(|state, _| {
                            state.newest = state.newest.max(loc.segment);
                            state.segments.entry(loc.segment).or_default().records += 1;
                            if let Some(queue) = state.queues.get_mut(&id) {
                                queue.created_at = Some(*loc);
                            }
                        });
                    }
                    let _ = tx.send(result.map(|_| ()));
                }),
            ));
            let confirms: Vec<_> =
                replay.into_iter().map(|bytes| self.enqueue_locked(state, out, id, bytes, None)).collect();
            Ok((id, Some(rx), confirms))
        })?;
        let (id, creation, confirms) = created;
        if let Some(creation) = creation {
            wait(creation).await?;
        }
        for confirm in confirms {
            wait(confirm).await?;
        }
        Ok(id)
    }

    /// Persists one message; the receiver completes with its seq once the
    /// journal confirmed it (under `Always`: synced). With a producer's
    /// message id already stored within the dedupe window, nothing is
    /// written: the receiver gets the first copy's seq once that copy is
    /// confirmed.
    pub(crate) fn enqueue(
        &self,
        id: QueueId,
        bytes: Vec<u8>,
        msg_id: Option<&str>,
    ) -> oneshot::Receiver<Result<Seq, JournalError>> {
        self.run(|state, out| self.enqueue_locked(state, out, id, bytes, msg_id))
    }

    /// Publishes an event durably: into every subscription of its type whose
    /// pattern matches `topic`, and into the type's log if it has one
    /// (trimmed to its retention as each event is confirmed). The receivers complete when each copy is
    /// confirmed.
    pub(crate) fn publish(
        &self,
        tag: &str,
        topic: &Topic,
        bytes: Vec<u8>,
        msg_id: Option<&str>,
    ) -> (Vec<oneshot::Receiver<Result<Seq, JournalError>>>, usize) {
        self.run(|state, out| {
            let targets: Vec<(QueueId, bool)> = state
                .queues
                .iter()
                .filter(|(_, queue)| queue.tag == tag)
                .filter_map(|(&id, queue)| match &queue.role {
                    Role::Subscription(_) => {
                        queue.pattern.as_ref().is_some_and(|pattern| pattern.matches(topic)).then_some((id, false))
                    }
                    Role::Log(_) => Some((id, true)),
                    Role::Mailbox => None,
                })
                .collect();
            let mut confirms = Vec::with_capacity(targets.len());
            let subscriptions = targets.iter().filter(|(_, log)| !log).count();
            for (id, log) in targets {
                let payload = if log { with_topic(topic.as_str(), &bytes) } else { bytes.clone() };
                confirms.push(self.enqueue_locked(state, out, id, payload, msg_id));
            }
            (confirms, subscriptions)
        })
    }

    pub(super) fn enqueue_locked(
        &self,
        state: &mut State,
        out: &mut Outbox,
        id: QueueId,
        bytes: Vec<u8>,
        msg_id: Option<&str>,
    ) -> oneshot::Receiver<Result<Seq, JournalError>> {
        let (tx, rx) = oneshot::channel();
        let me = self.me.clone();
        let window = state.dedupe_window;
        let queue = state.queues.get_mut(&id).expect("a queue handle names a live queue");
        let now = msg_id.map(|_| unix_millis());
        if let (Some(msg_id), Some(now)) = (msg_id, now) {
            queue.forget_ids(now, window);
            if let Some(first) = queue.ids.get(msg_id).copied() {
                match queue.slots.get(first.seq) {
                    Some(slot) if slot.status == Status::Unconfirmed => {
                        queue.repeats.entry(first.seq).or_default().push(tx);
                    }
                    // Confirmed (and maybe handled since): done already.
                    _ => {
                        let _ = tx.send(Ok(first.seq));
                    }
                }
                return rx;
            }
        }
        let seq = queue.next_seq;
        // Recovery refuses seq `u64::MAX` (see `durable::records`), so it is
        // never handed out (only a crafted journal gets this far).
        let Some(next) = seq.next() else {
            let _ = tx.send(Err(JournalError::Frame(FrameError::SeqExhausted)));
            return rx;
        };
        queue.next_seq = next;
        // A message over 16 MiB is refused when framed; until then its
        // slot only needs some length.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        queue.slots.push(seq, Slot { segment: 0, at: 0, len, attempts: 0, status: Status::Unconfirmed });
        if queue.cache_bytes + bytes.len() <= CACHE_BYTES {
            queue.cache_bytes += bytes.len();
            queue.cache.push_back((seq, bytes.as_slice().into()));
        }
        let (record, prefix, stamp) = match (msg_id, now) {
            (Some(msg_id), Some(now)) => {
                let key: Box<str> = msg_id.into();
                queue.ids.insert(key.clone(), Remembered { seq, at: now });
                queue.id_order.push_back((now, key));
                let payload = id_payload(msg_id, now, &bytes);
                let prefix = (payload.len() - bytes.len()) as u64;
                (OwnedRecord { kind: ENQUEUE_ID, stream: id.stream(), seq: seq.get(), payload }, prefix, now)
            }
            _ => (OwnedRecord { kind: ENQUEUE, stream: id.stream(), seq: seq.get(), payload: bytes }, 0, 0),
        };
        out.extra.push((
            vec![record],
            Box::new(move |result| {
                let result = match me.upgrade() {
                    Some(store) => store.confirmed(id, seq, result, prefix, stamp),
                    None => result.map(|_| seq),
                };
                let _ = tx.send(result);
            }),
        ));
        rx
    }

    /// An enqueue's fate is known: make it deliverable, or drop it.
    pub(super) fn confirmed(
        &self,
        id: QueueId,
        seq: Seq,
        result: Result<Loc, JournalError>,
        prefix: u64,
        stamp: u64,
    ) -> Result<Seq, JournalError> {
        self.run(|state, out| {
            if let Ok(loc) = &result {
                state.newest = state.newest.max(loc.segment);
            }
            let Some(queue) = state.queues.get_mut(&id) else { return result.map(|_| seq) };
            // Producers that repeated this message's id learn its outcome
            // (the map is empty, and not hashed, unless one did).
            let repeats = if queue.repeats.is_empty() { None } else { queue.repeats.remove(&seq) };
            for repeat in repeats.unwrap_or_default() {
                let outcome = match &result {
                    Ok(_) => Ok(seq),
                    Err(error) => Err(JournalError::Io(std::io::Error::other(error.to_string()))),
                };
                let _ = repeat.send(outcome);
            }
            if result.is_err() {
                // Not stored: a retry with this id must write it.
                queue.ids.retain(|_, remembered| remembered.seq != seq);
            }
            let Some(slot) = queue.slot(seq) else { return result.map(|_| seq) };
            match &result {
                Ok(loc) => {
                    slot.segment = loc.segment;
                    slot.at = offset(message_at(*loc, false) + prefix);
                    slot.status = Status::Waiting;
                    let len = slot.len;
                    queue.pending += 1;
                    let live = state.segments.entry(loc.segment).or_default();
                    live.records += 1;
                    live.bytes += u64::from(len) + HEADER as u64;
                    live.id_newest = live.id_newest.max(stamp);
                }
                // Not confirmed: never delivered by this process (after a
                // restart it may be, if it did reach the disk).
                Err(_) => {
                    finish(state, id, seq);
                }
            }
            deliver(self, state, id, out);
            trim(state, id, out);
            result.map(|_| seq)
        })
    }
}
