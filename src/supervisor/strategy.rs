//! Restart strategies as pure decisions (OTP's `one_for_one`, `one_for_all`, `rest_for_one`).

use std::fmt;

/// Which children a failure restarts.
///
/// ```
/// use treeline::supervisor::Strategy;
///
/// assert_eq!(Strategy::RestForOne.to_string(), "rest_for_one");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Only the failed child.
    OneForOne,
    /// All children: the others are stopped in reverse start order, then all
    /// start again in start order.
    OneForAll,
    /// The failed child and those started after it.
    RestForOne,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        })
    }
}

/// What a failure of child `failed` (by start position) does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Positions to stop first, in this order (reverse start order).
    pub(crate) stop: Vec<usize>,
    /// Positions to start again, in this order (start order).
    pub(crate) start: Vec<usize>,
}

/// The restart set and order for a failure of the child at `failed` among
/// `len` children.
pub(crate) fn plan(strategy: Strategy, failed: usize, len: usize) -> Plan {
    match strategy {
        Strategy::OneForOne => Plan { stop: Vec::new(), start: vec![failed] },
        Strategy::OneForAll => {
            Plan { stop: (0..len).rev().filter(|&i| i != failed).collect(), start: (0..len).collect() }
        }
        Strategy::RestForOne => Plan { stop: (failed + 1..len).rev().collect(), start: (failed..len).collect() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_for_one_touches_only_the_failed_child() {
        assert_eq!(plan(Strategy::OneForOne, 1, 3), Plan { stop: vec![], start: vec![1] });
    }

    #[test]
    fn one_for_all_stops_the_others_newest_first_then_starts_all_in_order() {
        assert_eq!(plan(Strategy::OneForAll, 1, 3), Plan { stop: vec![2, 0], start: vec![0, 1, 2] });
    }

    #[test]
    fn rest_for_one_restarts_the_failed_child_and_later_ones() {
        // supervisor_SUITE:order_of_children: killing the 3rd of 5 stops 5, 4.
        assert_eq!(plan(Strategy::RestForOne, 2, 5), Plan { stop: vec![4, 3], start: vec![2, 3, 4] });
        assert_eq!(plan(Strategy::RestForOne, 4, 5), Plan { stop: vec![], start: vec![4] });
    }
}
