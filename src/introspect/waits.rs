//! The wait-for graph: an edge from each caller to the actor it waits on.
//! A cycle is a deadlock: each actor's callback waits for an answer from
//! the next, which cannot come while that one waits too (until a call's
//! timeout breaks the cycle, or forever for `call_forever`).

use std::collections::{HashMap, HashSet};

use crate::addr::ActorId;

/// The cycles among `edges` (caller, callee), each once, rotated to start
/// at its smallest id, sorted.
pub(crate) fn cycles(edges: impl IntoIterator<Item = (ActorId, ActorId)>) -> Vec<Vec<ActorId>> {
    let mut next: HashMap<ActorId, Vec<ActorId>> = HashMap::new();
    for (caller, callee) in edges {
        if caller != ActorId::EXTERNAL {
            next.entry(caller).or_default().push(callee);
        }
    }
    let mut found: HashSet<Vec<ActorId>> = HashSet::new();
    let mut starts: Vec<ActorId> = next.keys().copied().collect();
    starts.sort_unstable();
    // Depth-first from every caller along a path without repeats; a path
    // that comes back to an actor on it closes a cycle. An actor waits on
    // one call at a time in practice (one callback at a time), so paths are
    // short and this stays linear in the edges.
    for start in starts {
        let mut path = vec![start];
        let mut on_path: HashSet<ActorId> = HashSet::from([start]);
        walk(&next, &mut path, &mut on_path, &mut found);
    }
    let mut cycles: Vec<Vec<ActorId>> = found.into_iter().collect();
    cycles.sort();
    cycles
}

fn walk(
    next: &HashMap<ActorId, Vec<ActorId>>,
    path: &mut Vec<ActorId>,
    on_path: &mut HashSet<ActorId>,
    found: &mut HashSet<Vec<ActorId>>,
) {
    let last = *path.last().expect("a path has a start");
    for &callee in next.get(&last).into_iter().flatten() {
        if let Some(at) = path.iter().position(|&id| id == callee) {
            let mut cycle = path[at..].to_vec();
            let smallest = cycle.iter().enumerate().min_by_key(|(_, id)| **id).map_or(0, |(at, _)| at);
            cycle.rotate_left(smallest);
            found.insert(cycle);
        } else if on_path.insert(callee) {
            path.push(callee);
            walk(next, path, on_path, found);
            path.pop();
            on_path.remove(&callee);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> ActorId {
        ActorId(n)
    }

    #[test]
    fn a_chain_has_no_cycle_and_a_ring_has_one() {
        assert!(cycles([(id(1), id(2)), (id(2), id(3))]).is_empty());
        assert_eq!(cycles([(id(3), id(1)), (id(1), id(2)), (id(2), id(3))]), vec![vec![id(1), id(2), id(3)]]);
    }

    #[test]
    fn a_cycle_is_found_once_whatever_leads_into_it() {
        let edges = [(id(9), id(5)), (id(5), id(6)), (id(6), id(5)), (id(7), id(6))];
        assert_eq!(cycles(edges), vec![vec![id(5), id(6)]]);
    }

    #[test]
    fn calls_from_outside_any_actor_are_not_waits_of_an_actor() {
        assert!(cycles([(ActorId::EXTERNAL, id(1)), (id(1), ActorId::EXTERNAL)]).is_empty());
    }
}
