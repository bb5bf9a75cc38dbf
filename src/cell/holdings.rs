//! What an actor holds until it dies: its names and subscriptions in the
//! registry, its durable consumer slots. The registry and the durable store
//! record entries here; the actor's teardown takes them all at once and
//! releases them before anyone hears of the death.
//!
//! The one subtle case is a registration racing with the death: the holder
//! may die between the registrant's insert (in the registry) and its record
//! (here). Teardown closes the holdings as it takes them, so a later record
//! fails and hands the entry back: the registrant sees the holder is gone
//! and undoes its insert. Either teardown releases the entry, or the
//! registrant does; never neither, never both.

use parking_lot::Mutex;

/// The entries of type `T` one actor holds (boxed on first use: most actors
/// hold none).
pub(crate) struct Holdings<T> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    closed: bool,
    held: Option<Box<Held<T>>>,
}

/// Boxed so that an actor holding nothing pays one pointer.
#[derive(Default)]
struct Held<T>(Vec<T>);

impl<T: Clone> Holdings<T> {
    pub(crate) fn new() -> Self {
        Holdings { inner: Mutex::new(Inner { closed: false, held: None }) }
    }

    /// Records `entry`; gives it back if the holder died (the caller undoes
    /// what the entry stands for).
    pub(crate) fn record(&self, entry: T) -> Result<(), T> {
        let mut inner = self.inner.lock();
        if inner.closed {
            return Err(entry);
        }
        inner.held.get_or_insert_with(|| Box::new(Held(Vec::new()))).0.push(entry);
        Ok(())
    }

    /// Forgets entries given up before the death (an explicit unregister).
    pub(crate) fn forget(&self, matches: impl Fn(&T) -> bool) {
        if let Some(held) = &mut self.inner.lock().held {
            held.0.retain(|entry| !matches(entry));
        }
    }

    /// The entries held now.
    pub(crate) fn snapshot(&self) -> Vec<T> {
        self.inner.lock().held.as_ref().map(|held| held.0.clone()).unwrap_or_default()
    }

    /// The holder died: takes every entry, and refuses records from now on.
    pub(crate) fn close(&self) -> Vec<T> {
        let mut inner = self.inner.lock();
        inner.closed = true;
        inner.held.take().map(|held| held.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_after_the_death_is_handed_back() {
        let holdings = Holdings::new();
        holdings.record(1).unwrap();
        holdings.record(2).unwrap();
        holdings.forget(|entry| *entry == 1);
        assert_eq!(holdings.snapshot(), [2]);
        assert_eq!(holdings.close(), [2]);
        assert_eq!(holdings.record(3), Err(3), "the registrant undoes it");
        assert!(holdings.close().is_empty());
    }
}
