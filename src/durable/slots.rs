//! The unfinished messages of one durable queue, by seq.
//!
//! Seqs only grow, so the entries are a deque sorted by seq: an enqueue
//! pushes at the back, a lookup is a binary search, and a finished message
//! becomes a tombstone that leaves when it reaches the front, or when
//! tombstones outnumber the live entries (then all leave at once, amortized
//! O(1) per removal). Memory is at most about twice the live entries, never
//! in proportion to the span of their seqs (one stuck message and a million
//! acked after it, or a crafted seq gap, cost almost nothing), and the hot
//! path stays a push and a pop on a contiguous buffer.

use std::collections::VecDeque;

use super::records::Seq;

/// Live entries of type `T` by seq, in seq order.
#[derive(Debug)]
pub(super) struct Slots<T> {
    entries: VecDeque<(Seq, Option<T>)>,
    live: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots { entries: VecDeque::new(), live: 0 }
    }
}

impl<T> Slots<T> {
    fn index(&self, seq: Seq) -> Option<usize> {
        self.entries.binary_search_by_key(&seq, |(key, _)| *key).ok()
    }

    /// Adds `value` at `seq`, which must be above every seq added before.
    pub(super) fn push(&mut self, seq: Seq, value: T) {
        debug_assert!(self.entries.back().is_none_or(|(last, _)| *last < seq), "seqs only grow");
        self.entries.push_back((seq, Some(value)));
        self.live += 1;
    }

    pub(super) fn get(&self, seq: Seq) -> Option<&T> {
        self.entries[self.index(seq)?].1.as_ref()
    }

    pub(super) fn get_mut(&mut self, seq: Seq) -> Option<&mut T> {
        let index = self.index(seq)?;
        self.entries[index].1.as_mut()
    }

    /// Takes the entry at `seq` out.
    pub(super) fn remove(&mut self, seq: Seq) -> Option<T> {
        let index = self.index(seq)?;
        let value = self.entries[index].1.take()?;
        self.live -= 1;
        while self.entries.front().is_some_and(|(_, value)| value.is_none()) {
            self.entries.pop_front();
        }
        if self.entries.len() > 2 * self.live + 16 {
            self.entries.retain(|(_, value)| value.is_some());
        }
        Some(value)
    }

    /// The lowest seq held.
    pub(super) fn first_seq(&self) -> Option<Seq> {
        self.entries.front().map(|(seq, _)| *seq) // the front is never a tombstone
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (Seq, &T)> {
        self.entries.iter().filter_map(|(seq, value)| Some((*seq, value.as_ref()?)))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (Seq, &mut T)> {
        self.entries.iter_mut().filter_map(|(seq, value)| Some((*seq, value.as_mut()?)))
    }

    /// The entries from `from` on.
    pub(super) fn iter_from(&self, from: Seq) -> impl Iterator<Item = (Seq, &T)> {
        let start = self.entries.partition_point(|(seq, _)| *seq < from);
        self.entries.range(start..).filter_map(|(seq, value)| Some((*seq, value.as_ref()?)))
    }

    /// Entries kept, tombstones included (for tests of the bound).
    #[cfg(test)]
    fn footprint(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::durable::records;

    proptest! {
        /// The deque behaves as an ordered map, and keeps at most about
        /// twice the live entries.
        #[test]
        fn slots_behave_as_an_ordered_map(ops in prop::collection::vec((any::<bool>(), 0u64..64, 1u64..1_000_000_000), 1..400)) {
            let mut slots = Slots::default();
            let mut model = BTreeMap::new();
            let mut next = 1u64;
            for (push, pick, gap) in ops {
                if push || model.is_empty() {
                    next += gap;
                    slots.push(records::seq(next), next * 3);
                    model.insert(next, next * 3);
                } else {
                    let seq = *model.keys().nth(pick as usize % model.len()).unwrap();
                    prop_assert_eq!(slots.get(records::seq(seq)), model.get(&seq));
                    prop_assert_eq!(slots.remove(records::seq(seq)), model.remove(&seq));
                    prop_assert_eq!(slots.remove(records::seq(seq)), None);
                }
                prop_assert!(slots.footprint() <= 2 * model.len() + 16);
                prop_assert_eq!(slots.first_seq().map(Seq::get), model.keys().next().copied());
            }
            let all: Vec<(u64, u64)> = slots.iter().map(|(seq, v)| (seq.get(), *v)).collect();
            prop_assert_eq!(all, model.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
            if let Some(&middle) = model.keys().nth(model.len() / 2) {
                let tail: Vec<u64> = slots.iter_from(records::seq(middle)).map(|(seq, _)| seq.get()).collect();
                prop_assert_eq!(tail, model.range(middle..).map(|(k, _)| *k).collect::<Vec<_>>());
            }
        }
    }
}
