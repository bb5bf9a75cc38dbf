//! Property test: random registrations, unregistrations, subscriptions,
//! publishes and deaths, checked against a `HashMap` model.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::{prop_oneof, proptest, Just, ProptestConfig, Strategy as _};
use treeline::registry::PublishOptions;
use treeline::registry::RegistryError;
use treeline::topic::Topic;
use treeline::*;

use crate::support::{probe, Probe, Report};

#[derive(Clone, Debug)]
struct Note(u32);
impl Event for Note {
    const TOPIC: &'static str = "notes.default";
}

struct Member(usize, Report);

impl Actor for Member {
    type Args = (usize, Report);
    async fn init((index, report): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Member(index, report))
    }
}

impl HandleEvent<Note> for Member {
    async fn handle_event(&mut self, Note(n): Note, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.1.say(format!("{}:{n}", self.0));
        Ok(())
    }
}

const NAMES: [&str; 3] = ["n0", "n1", "n2"];
const TOPICS: [&str; 3] = ["notes.a", "notes.b", "notes.*"];

enum Cmd {
    Register(usize),
    Unregister(usize),
    Subscribe(usize),
    Unsubscribe(usize),
}

impl HandleCall<Cmd> for Member {
    type Reply = Result<usize, RegistryError>;
    async fn handle_call(&mut self, cmd: Cmd, ctx: &mut Context<Self>) -> Reply<Self::Reply> {
        Reply::new(match cmd {
            Cmd::Register(name) => ctx.register(Name::new(NAMES[name])).map(|()| 1),
            Cmd::Unregister(name) => ctx.unregister(&Name::new(NAMES[name])).map(|()| 1),
            Cmd::Subscribe(topic) => ctx.subscribe_to::<Note>(TOPICS[topic]).map(|()| 1),
            Cmd::Unsubscribe(topic) => ctx.unsubscribe_from::<Note>(TOPICS[topic]),
        })
    }
}

#[derive(Clone, Debug)]
enum Op {
    Register(usize, usize),
    Unregister(usize, usize),
    Subscribe(usize, usize),
    Unsubscribe(usize, usize),
    Publish(usize),
    Kill(usize),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    let actor = 0usize..3;
    prop_oneof![
        (actor.clone(), 0usize..3).prop_map(|(a, n)| Op::Register(a, n)),
        (actor.clone(), 0usize..3).prop_map(|(a, n)| Op::Unregister(a, n)),
        (actor.clone(), 0usize..3).prop_map(|(a, t)| Op::Subscribe(a, t)),
        (actor.clone(), 0usize..3).prop_map(|(a, t)| Op::Unsubscribe(a, t)),
        (0usize..2).prop_map(Op::Publish),
        actor.prop_map(Op::Kill),
        Just(Op::Publish(0)),
    ]
}

/// The model: who holds which name; who subscribed to what (with
/// multiplicity); who is alive.
#[derive(Default, Debug)]
struct Model {
    names: HashMap<usize, usize>,
    subscriptions: Vec<(usize, usize)>,
    dead: Vec<bool>,
}

impl Model {
    fn deliveries(&self, topic: usize) -> Vec<usize> {
        // topic 0 = "notes.a", 1 = "notes.b"; subscription 2 = "notes.*" matches both.
        let mut hits: Vec<usize> =
            self.subscriptions.iter().filter(|(_, t)| *t == topic || *t == 2).map(|(actor, _)| *actor).collect();
        hits.sort_unstable();
        hits
    }
}

async fn received(probe: &mut Probe, count: usize) -> Vec<usize> {
    let mut actors: Vec<usize> =
        probe.take(count).await.iter().map(|e| e.split(':').next().unwrap().parse().unwrap()).collect();
    probe.expect_silence(Duration::from_millis(10)).await;
    actors.sort_unstable();
    actors
}

async fn run(ops: Vec<Op>) {
    let system = System::new();
    let (report, mut probe) = probe();
    let mut actors = Vec::new();
    for index in 0..3 {
        actors.push(system.spawn::<Member>((index, report.clone())).await.unwrap());
    }
    let mut model = Model { dead: vec![false; 3], ..Model::default() };
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Register(a, n) if !model.dead[a] => {
                let expected = match model.names.get(&n) {
                    Some(&owner) => Err(RegistryError::AlreadyRegistered(actors[owner].pid())),
                    None => {
                        model.names.insert(n, a);
                        Ok(1)
                    }
                };
                assert_eq!(actors[a].call(Cmd::Register(n)).await, Ok(expected), "step {step}");
            }
            Op::Unregister(a, n) if !model.dead[a] => {
                let expected = match model.names.get(&n) {
                    Some(&owner) if owner != a => Err(RegistryError::NotOwner(actors[owner].pid())),
                    _ => {
                        model.names.remove(&n);
                        Ok(1)
                    }
                };
                assert_eq!(actors[a].call(Cmd::Unregister(n)).await, Ok(expected), "step {step}");
            }
            Op::Subscribe(a, t) if !model.dead[a] => {
                model.subscriptions.push((a, t));
                assert_eq!(actors[a].call(Cmd::Subscribe(t)).await, Ok(Ok(1)), "step {step}");
            }
            Op::Unsubscribe(a, t) if !model.dead[a] => {
                let before = model.subscriptions.len();
                model.subscriptions.retain(|&(actor, topic)| !(actor == a && topic == t));
                let removed = before - model.subscriptions.len();
                assert_eq!(actors[a].call(Cmd::Unsubscribe(t)).await, Ok(Ok(removed)), "step {step}");
            }
            Op::Kill(a) if !model.dead[a] => {
                actors[a].kill();
                actors[a].join().await;
                model.dead[a] = true;
                model.names.retain(|_, owner| *owner != a);
                model.subscriptions.retain(|(actor, _)| *actor != a);
            }
            Op::Publish(t) => {
                let topic = Topic::new(TOPICS[t]).unwrap();
                let expected = model.deliveries(t);
                assert_eq!(
                    system.publish_with(Note(step as u32), PublishOptions::new().topic(topic.clone())).await,
                    Ok(expected.len()),
                    "step {step}"
                );
                assert_eq!(received(&mut probe, expected.len()).await, expected, "step {step}");
            }
            _ => continue,
        }
        for (n, name) in NAMES.iter().enumerate() {
            let owner = system.registry().whereis_pid(name).map(|pid| pid.id());
            assert_eq!(owner, model.names.get(&n).map(|&a| actors[a].id()), "step {step}: name {name}");
        }
        assert_eq!(system.registry().stats().subscriptions, model.subscriptions.len(), "step {step}");
    }
    system.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_registry_follows_a_hashmap_model(ops in proptest::collection::vec(op(), 1..25)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(run(ops));
    }
}
