//! Queries on names and their values (Elixir's `Registry.select/2`,
//! `count/1`, `count_select/2`, `update_value/3`).
//!
//! A query visits every name shard in turn, holding one shard lock at a
//! time, so it sees each shard at one moment but not the whole registry at
//! one moment (as Elixir's, across partitions). Only names whose holder is
//! alive are reported.

use super::{Meta, Registry, RegistryError};
use crate::addr::Pid;

impl Registry {
    /// The names whose value is a `T` accepted by `filter`, with their
    /// holders, in no particular order (Elixir's `select/2` and `match/4`
    /// on values).
    ///
    /// ```
    /// use treeline::{Actor, Context, InitError, Name, SpawnOptions, System};
    ///
    /// struct Shard;
    /// impl Actor for Shard {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Shard) }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// for (name, region) in [("shard-1", "eu"), ("shard-2", "us"), ("shard-3", "eu")] {
    ///     let options = SpawnOptions::new().name_with(Name::new(name), region);
    ///     system.spawn_with::<Shard>((), options).await.unwrap();
    /// }
    /// let mut eu: Vec<String> =
    ///     system.registry().select(|_, region: &&str| *region == "eu").into_iter().map(|(name, _)| name).collect();
    /// eu.sort();
    /// assert_eq!(eu, ["shard-1", "shard-3"]);
    /// assert_eq!(system.registry().count(), 3);
    /// assert_eq!(system.registry().count_select(|name, _: &&str| name.ends_with('2')), 1);
    /// # }
    /// ```
    pub fn select<T: 'static>(&self, filter: impl FnMut(&str, &T) -> bool) -> Vec<(String, Pid)> {
        let mut found = Vec::new();
        self.visit(filter, |name, pid| found.push((name.to_string(), pid.clone())));
        found
    }

    /// How many names have a live holder (Elixir's `count/1`).
    pub fn count(&self) -> usize {
        self.names.iter().map(|shard| shard.lock().values().filter(|entry| entry.pid.is_alive()).count()).sum()
    }

    /// How many names [`Registry::select`] would return (Elixir's
    /// `count_select/2`), without collecting them.
    pub fn count_select<T: 'static>(&self, filter: impl FnMut(&str, &T) -> bool) -> usize {
        let mut count = 0;
        self.visit(filter, |_, _| count += 1);
        count
    }

    /// Calls `found` for every name with a live holder whose value is a `T`
    /// accepted by `filter`, one shard lock at a time.
    fn visit<T: 'static>(&self, mut filter: impl FnMut(&str, &T) -> bool, mut found: impl FnMut(&str, &Pid)) {
        for shard in self.names.iter() {
            let shard = shard.lock();
            for (name, entry) in shard.iter() {
                let Some(value) = entry.meta.as_ref().and_then(Meta::get::<T>) else { continue };
                if entry.pid.is_alive() && filter(name, value) {
                    found(name, &entry.pid);
                }
            }
        }
    }

    /// Replaces the value of `name`, held by `owner`, with `update` of the
    /// current one (`None` if it has none or one of another type). What
    /// `Context::update_value` does; only the holder may.
    pub(crate) fn update_value<T: Send + Sync + 'static>(
        &self,
        owner: &Pid,
        name: &str,
        update: impl FnOnce(Option<&T>) -> T,
    ) -> Result<(), RegistryError> {
        let mut shard = self.shard(name).lock();
        let entry = shard.get_mut(name).filter(|entry| entry.pid.is_alive()).ok_or(RegistryError::NotRegistered)?;
        if entry.pid != *owner {
            return Err(RegistryError::NotOwner(entry.pid.clone()));
        }
        let next = update(entry.meta.as_ref().and_then(Meta::get::<T>));
        entry.meta = Some(Meta::new(next));
        Ok(())
    }
}
