//! A property test: random sequences of child exits, checked after every
//! step against a small reference model of strategy + intensity + restart
//! type (OTP's restart types, strategies and intensity).

use std::time::Duration;

use proptest::prelude::{prop_oneof, proptest, Just, ProptestConfig};
use treeline::supervisor::{Restart, Strategy, SupervisorRef, SupervisorSpec};
use treeline::*;

use crate::scripted::{Do, Script, Scripted};
use crate::support::{probe, Probe};

#[derive(Clone, Copy, Debug)]
enum How {
    Normal,
    Shutdown,
    Crash,
    Kill,
}

impl How {
    fn reason(self) -> ExitReason {
        match self {
            How::Normal => ExitReason::Normal,
            How::Shutdown => ExitReason::Shutdown,
            How::Crash => ExitReason::custom("crash"),
            How::Kill => ExitReason::Killed,
        }
    }
}

const NAMES: [&str; 4] = ["c0", "c1", "c2", "c3"];

/// OTP's restart table, written out here rather than asked of the
/// implementation: permanent children always restart, transient ones unless
/// they exit normally or with `shutdown`, temporary ones never.
fn restarts(restart: Restart, how: How) -> bool {
    match (restart, how) {
        (Restart::Permanent, _) => true,
        (Restart::Transient, How::Crash | How::Kill) => true,
        (Restart::Transient, How::Normal | How::Shutdown) => false,
        (Restart::Temporary, _) => false,
    }
}

/// The reference model.
#[derive(Debug)]
struct Model {
    strategy: Strategy,
    intensity: u32,
    restarts: u32,
    alive: bool,
    /// (name, restart type, running, starts so far), in start order.
    children: Vec<(&'static str, Restart, bool, u32)>,
}

impl Model {
    fn exit(&mut self, name: &str, how: How) {
        let Some(failed) = self.children.iter().position(|c| c.0 == name && c.2) else { return };
        self.children[failed].2 = false;
        let restart = self.children[failed].1;
        if !restarts(restart, how) {
            if restart == Restart::Temporary {
                self.children.remove(failed);
            }
            return;
        }
        self.restarts += 1;
        if self.restarts > self.intensity {
            self.alive = false;
            for child in &mut self.children {
                child.2 = false;
            }
            return;
        }
        let len = self.children.len();
        let (stop, start): (Vec<usize>, Vec<usize>) = match self.strategy {
            Strategy::OneForOne => (vec![], vec![failed]),
            Strategy::OneForAll => ((0..len).filter(|&i| i != failed).collect(), (0..len).collect()),
            Strategy::RestForOne => ((failed + 1..len).collect(), (failed..len).collect()),
        };
        let stopped: Vec<&'static str> = stop.iter().map(|&i| self.children[i].0).collect();
        let starting: Vec<&'static str> = start.iter().map(|&i| self.children[i].0).collect();
        for child in &mut self.children {
            if stopped.contains(&child.0) {
                child.2 = false;
            }
        }
        self.children.retain(|child| !(child.1 == Restart::Temporary && stopped.contains(&child.0)));
        for child in &mut self.children {
            if starting.contains(&child.0) {
                child.2 = true;
                child.3 += 1;
            }
        }
    }
}

fn restart_type() -> impl proptest::strategy::Strategy<Value = Restart> {
    prop_oneof![Just(Restart::Permanent), Just(Restart::Transient), Just(Restart::Temporary)]
}

fn how() -> impl proptest::strategy::Strategy<Value = How> {
    prop_oneof![Just(How::Normal), Just(How::Shutdown), Just(How::Crash), Just(How::Kill)]
}

fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
    prop_oneof![Just(Strategy::OneForOne), Just(Strategy::OneForAll), Just(Strategy::RestForOne)]
}

fn inits(probe: &mut Probe, name: &str) -> u32 {
    probe.drain();
    probe.seen().iter().filter(|event| **event == format!("{name}:init")).count() as u32
}

async fn check(model: &Model, sup: &SupervisorRef, probe: &mut Probe, step: usize) {
    assert_eq!(sup.pid().is_alive(), model.alive, "step {step}: supervisor alive; model {model:?}");
    if !model.alive {
        return;
    }
    let children = sup.which_children().await.unwrap();
    let mut seen: Vec<(String, bool)> =
        children.iter().rev().map(|c| (c.id.as_ref().unwrap().to_string(), c.pid.is_some())).collect();
    let expected: Vec<(String, bool)> = model.children.iter().map(|c| (c.0.to_string(), c.2)).collect();
    seen.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(seen, expected_sorted, "step {step}: children; model {model:?}");
    for child in &model.children {
        assert_eq!(inits(probe, child.0), child.3, "step {step}: starts of {}; model {model:?}", child.0);
    }
}

async fn run(strategy: Strategy, intensity: u32, restarts: Vec<Restart>, events: Vec<(usize, How)>) {
    let (report, mut probe) = probe();
    let system = System::new();
    let mut spec = SupervisorSpec::new(strategy).intensity(intensity, Duration::from_secs(3600));
    let mut handles = Vec::new();
    for (i, restart) in restarts.iter().enumerate() {
        let child = ChildSpec::<Scripted>::worker(NAMES[i], Script::new(NAMES[i], &report)).restart(*restart);
        handles.push(child.child_ref());
        spec = spec.child(child);
    }
    let sup = tokio::time::timeout(Duration::from_secs(1), system.start(spec)).await.unwrap().unwrap();
    let mut model = Model {
        strategy,
        intensity,
        restarts: 0,
        alive: true,
        children: restarts.iter().enumerate().map(|(i, r)| (NAMES[i], *r, true, 1)).collect(),
    };
    check(&model, &sup, &mut probe, 0).await;
    for (step, (target, how)) in events.into_iter().enumerate() {
        if !model.alive {
            break;
        }
        let target = target % restarts.len();
        let Some(current) = handles[target].current() else { continue };
        match how {
            How::Kill => {
                current.kill();
            }
            other => current.cast(Do::Stop(other.reason())).await.unwrap(),
        }
        tokio::time::timeout(Duration::from_secs(1), current.join()).await.expect("the child dies");
        model.exit(NAMES[target], how);
        // Two round trips: the second is queued behind the Exit message.
        if sup.pid().is_alive() {
            let _ = sup.count_children().await;
            let _ = sup.count_children().await;
        }
        if !model.alive {
            // Bounded: if the supervisor wrongly lives on, `check` says so.
            let _ = tokio::time::timeout(Duration::from_secs(1), sup.join()).await;
        }
        check(&model, &sup, &mut probe, step + 1).await;
    }
    system.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn supervisors_follow_the_model(
        strategy in strategy(),
        intensity in 0u32..4,
        restarts in proptest::collection::vec(restart_type(), 1..=4),
        events in proptest::collection::vec((0usize..4, how()), 1..12),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(run(strategy, intensity, restarts, events));
    }
}
