//! The registry: unique names and topics (and the rule that
//! a name is free before anyone sees its owner's `Down`).

use std::time::Duration;

use treeline::actor::StartError;
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::registry::{RegistryError, RegistryEvent, RegistryKey};
use treeline::signal::Down;
use treeline::*;

use crate::scripted::{Ask, Do, InitMode, Script, Scripted};
use crate::support::{probe, until, within, Report, SHORT};

/// An actor that registers and unregisters names on request.
struct Holder;

const HELLO: Name<Holder> = Name::new("hello");
const WORLD: Name<Holder> = Name::new("world");

impl Actor for Holder {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Holder)
    }
}

enum Op {
    Register(Name<Holder>, Option<(u32, &'static str)>),
    Unregister(Name<Holder>),
    /// Adds one to the name's `u32` value.
    Bump(Name<Holder>),
}

impl HandleCall<Op> for Holder {
    type Reply = Result<(), RegistryError>;
    async fn handle_call(&mut self, op: Op, ctx: &mut Context<Self>) -> Reply<Self::Reply> {
        Reply::new(match op {
            Op::Register(name, None) => ctx.register(name),
            Op::Register(name, Some(meta)) => ctx.register_with(name, meta),
            Op::Unregister(name) => ctx.unregister(&name),
            Op::Bump(name) => ctx.update_value(&name, |count: Option<&u32>| count.map_or(1, |n| n + 1)),
        })
    }
}

on_both_runtimes! {
    async fn a_unique_name_conflict_names_the_owner_and_changes_nothing() {
        // REG-01
        let system = System::new();
        let a = system.spawn::<Holder>(()).await.unwrap();
        let b = system.spawn::<Holder>(()).await.unwrap();
        assert_eq!(a.call(Op::Register(HELLO, Some((1, "value")))).await, Ok(Ok(())));
        assert_eq!(a.call(Op::Register(HELLO, None)).await, Ok(Err(RegistryError::AlreadyRegistered(a.pid()))));
        assert_eq!(b.call(Op::Register(HELLO, None)).await, Ok(Err(RegistryError::AlreadyRegistered(a.pid()))));
        assert_eq!(a.call(Op::Register(WORLD, None)).await, Ok(Ok(())));
        assert_eq!(system.whereis(&HELLO), Some(a.clone()));
        assert_eq!(system.registry().value::<(u32, &str)>("hello"), Some((1, "value")));
        assert!(system.registry().keys_of(&b.pid()).is_empty());
        let mut keys = system.registry().keys_of(&a.pid());
        keys.sort_by_key(|key| format!("{key:?}"));
        assert_eq!(keys, [RegistryKey::Name("hello".into()), RegistryKey::Name("world".into())]);
        assert_eq!(system.registry().stats().names, 2);
    }
}

on_both_runtimes! {
    async fn unregister_removes_only_ones_own_names() {
        // REG-02 (names part) and "unregistering what you do not own"
        let system = System::new();
        let a = system.spawn::<Holder>(()).await.unwrap();
        let b = system.spawn::<Holder>(()).await.unwrap();
        a.call(Op::Register(HELLO, None)).await.unwrap().unwrap();
        a.call(Op::Register(WORLD, Some((2, "two")))).await.unwrap().unwrap();
        assert_eq!(b.call(Op::Unregister(HELLO)).await, Ok(Err(RegistryError::NotOwner(a.pid()))));
        assert_eq!(a.call(Op::Unregister(HELLO)).await, Ok(Ok(())));
        assert_eq!(a.call(Op::Unregister(Name::new("absent"))).await, Ok(Ok(())));
        assert_eq!(system.registry().keys_of(&a.pid()), [RegistryKey::Name("world".into())]);
        assert_eq!(system.registry().value::<(u32, &str)>("world"), Some((2, "two")));
        assert_eq!(system.registry().value::<String>("world"), None, "typed: a wrong type is None");
        assert_eq!(system.registry().value::<(u32, &str)>("unknown"), None);
        assert!(system.whereis(&HELLO).is_none());
        // Registry-level metadata.
        system.registry().put_meta("custom_key", "v");
        assert_eq!(system.registry().meta::<&str>("custom_key"), Some("v"));
        assert_eq!(system.registry().meta::<&str>("unknown"), None);
        system.registry().put_meta("custom_key", 7u8);
        assert_eq!(system.registry().meta::<u8>("custom_key"), Some(7), "put_meta replaces");
        assert!(system.registry().delete_meta("custom_key"));
        assert!(!system.registry().delete_meta("custom_key"));
    }
}

on_both_runtimes! {
    async fn lookups_are_typed() {
        let system = System::new();
        let a = system.spawn_with::<Holder>((), SpawnOptions::new().name(HELLO)).await.unwrap();
        assert_eq!(system.whereis(&HELLO), Some(a.clone()));
        // The same text as a name of another actor type finds nothing.
        const OTHER: Name<Scripted> = Name::new("hello");
        assert_eq!(system.whereis(&OTHER), None);
        assert_eq!(system.registry().whereis_pid("hello"), Some(a.pid()));
    }
}

on_both_runtimes! {
    async fn a_named_start_conflict_never_runs_init() {
        // GS-05
        let system = System::new();
        let (report, mut probe) = probe();
        const G5: Name<Scripted> = Name::new("g5");
        let a = system.spawn_with::<Scripted>(Script::new("a", &report), SpawnOptions::new().name(G5)).await.unwrap();
        probe.expect("a:init").await;
        let b = system.spawn_with::<Scripted>(Script::new("b", &report), SpawnOptions::new().name(G5)).await;
        assert_eq!(b.err(), Some(StartError::AlreadyStarted(a.pid())));
        probe.expect_silence(SHORT).await; // b's init never ran
        assert_eq!(a.call(Ask::Name).await, Ok("a".to_string()));
        assert_eq!(system.whereis(&G5), Some(a));
    }
}

on_both_runtimes! {
    async fn a_failed_or_ignored_start_releases_its_name_before_returning() {
        // GS-02 / GS-03: "whereis is none after each attempt; the follow-up start succeeds"
        let system = System::new();
        let (report, _probe) = probe();
        const G3: Name<Scripted> = Name::new("g3");
        for mode in [InitMode::Ignore, InitMode::Stop(ExitReason::custom("failed")), InitMode::Panic] {
            for _ in 0..5 {
                let failed = system
                    .spawn_with::<Scripted>(Script::new("g3", &report).init(mode.clone()), SpawnOptions::new().name(G3))
                    .await;
                assert!(failed.is_err());
                assert!(system.whereis(&G3).is_none());
                let good =
                    system.spawn_with::<Scripted>(Script::new("g3", &report), SpawnOptions::new().name(G3)).await.unwrap();
                good.stop(ExitReason::Normal).await.unwrap();
            }
        }
    }
}

on_both_runtimes! {
    async fn a_name_is_free_before_anyone_sees_the_owners_down() {
        // §1.4: by the time a Down is observed, the name is already released.
        struct Watcher {
            system: System,
            report: Report,
        }
        impl Actor for Watcher {
            type Args = (System, Report, Pid);
            async fn init((system, report, target): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
                ctx.monitor(&target);
                Ok(Watcher { system, report })
            }
        }
        impl HandleInfo<Down> for Watcher {
            async fn handle_info(&mut self, _: Down, _: &mut Context<Self>) -> Result<(), ExitReason> {
                let free = self.system.registry().whereis_pid("named").is_none();
                self.report.say(format!("name free at Down: {free}"));
                Ok(())
            }
        }
        let system = System::new();
        let (report, mut probe) = probe();
        const NAMED: Name<Scripted> = Name::new("named");
        let named =
            system.spawn_with::<Scripted>(Script::new("n", &report), SpawnOptions::new().name(NAMED)).await.unwrap();
        probe.expect("n:init").await;
        system.spawn::<Watcher>((system.clone(), report.clone(), named.pid())).await.unwrap();
        named.kill();
        probe.expect("name free at Down: true").await;
    }
}

on_both_runtimes! {
    async fn a_restarted_child_takes_its_name_and_topics_again() {
        #[derive(Clone, Debug)]
        struct Ping(u32);
        impl Event for Ping {
            const TOPIC: &'static str = "pings";
        }
        impl HandleEvent<Ping> for Scripted {
            async fn handle_event(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
                ctx.myself().try_cast(Do::Report(format!("ping {n}"))).expect("own mailbox");
                Ok(())
            }
        }
        const WORKER: Name<Scripted> = Name::new("worker");
        let system = System::new();
        let (report, mut probe) = probe();
        let spec = ChildSpec::<Scripted>::worker("worker", Script::new("w", &report)).name(WORKER).subscribe::<Ping>();
        system.start(Supervisor::one_for_one().intensity(5, Duration::from_secs(60)).child(spec)).await.unwrap();
        probe.expect("w:init").await;
        for round in 0..3 {
            let current = system.whereis(&WORKER).expect("registered");
            assert_eq!(system.publish(Ping(round)).await, Ok(1), "exactly one subscription, not one per incarnation");
            probe.expect(&format!("w:handled:ping {round}")).await;
            current.cast(Do::Panic("crash")).await.unwrap();
            probe.expect_eventually("w:init").await;
            let restarted = system.whereis(&WORKER).expect("registered again, with no code of its own");
            assert_ne!(restarted.id(), current.id());
        }
        assert_eq!(system.registry().stats().subscriptions, 1);
    }
}

struct Listener(Report);

impl Actor for Listener {
    type Args = Report;
    async fn init(report: Report, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Listener(report))
    }
}

impl HandleInfo<RegistryEvent> for Listener {
    async fn handle_info(&mut self, event: RegistryEvent, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0.say(format!("{event:?}"));
        Ok(())
    }
}

on_both_runtimes! {
    async fn listeners_hear_registrations_and_explicit_unregistrations_but_not_deaths() {
        // REG-06
        const X: Name<Holder> = Name::new("x");
        const Y: Name<Holder> = Name::new("y");
        const Z: Name<Holder> = Name::new("z");
        let system = System::new();
        let (report, mut probe) = probe();
        let listener = system.spawn::<Listener>(report).await.unwrap();
        system.registry().listen(&listener);
        let a = system.spawn::<Holder>(()).await.unwrap();
        a.call(Op::Register(X, Some((1, "")))).await.unwrap().unwrap();
        a.call(Op::Unregister(X)).await.unwrap().unwrap();
        a.call(Op::Register(Y, Some((2, "")))).await.unwrap().unwrap();
        a.kill();
        a.join().await;
        // A name from spawn options is a registration like any other (Elixir's
        // via-names go through `register` too).
        let b = system.spawn_with::<Holder>((), SpawnOptions::new().name(Z)).await.unwrap();
        let (a, b) = (a.id(), b.id());
        assert_eq!(
            probe.take(4).await,
            [
                format!("Registered {{ key: Name(\"x\"), id: {a} }}"),
                format!("Unregistered {{ key: Name(\"x\"), id: {a} }}"),
                format!("Registered {{ key: Name(\"y\"), id: {a} }}"),
                format!("Registered {{ key: Name(\"z\"), id: {b} }}"),
            ]
        );
        probe.expect_silence(SHORT).await;
        assert!(system.registry().whereis_pid("y").is_none());
    }
}

/// A listener that reports the first event and then never returns.
struct Stuck(Report);

impl Actor for Stuck {
    type Args = Report;
    async fn init(report: Report, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Stuck(report))
    }
}

impl HandleInfo<RegistryEvent> for Stuck {
    async fn handle_info(&mut self, event: RegistryEvent, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0.say(format!("{event:?}"));
        std::future::pending().await
    }
}

on_both_runtimes! {
    async fn an_event_a_listener_cannot_take_is_a_dead_letter_and_a_dead_listener_is_forgotten() {
        const X: Name<Holder> = Name::new("x");
        const Y: Name<Holder> = Name::new("y");
        let system = System::new();
        let (report, mut probe) = probe();
        let options = SpawnOptions::new().mailbox(MailboxConfig::bounded(1, Overflow::Reject));
        let listener = system.spawn_with::<Stuck>(report, options).await.unwrap();
        system.registry().listen(&listener);
        let holder = system.spawn::<Holder>(()).await.unwrap();
        holder.call(Op::Register(X, None)).await.unwrap().unwrap();
        probe.expect(&format!("Registered {{ key: Name(\"x\"), id: {} }}", holder.id())).await;
        // The listener is stuck in its handler: one event fills its mailbox, the
        // next is refused and counted.
        holder.call(Op::Register(Y, None)).await.unwrap().unwrap();
        holder.call(Op::Unregister(X)).await.unwrap().unwrap();
        assert_eq!(listener.dead_letters(), 1);
        assert_eq!(system.dead_letters().mailbox_full, 1);
        // Killed, it loses its queued event; the next notification to it is a
        // dead letter too, and it is forgotten: the one after costs nothing.
        listener.kill();
        listener.join().await;
        assert_eq!(system.dead_letters().actor_stopped, 1);
        holder.call(Op::Unregister(Y)).await.unwrap().unwrap();
        assert_eq!(system.dead_letters().actor_stopped, 2);
        holder.call(Op::Register(X, None)).await.unwrap().unwrap();
        assert_eq!(system.dead_letters().actor_stopped, 2);
        probe.expect_silence(SHORT).await;
    }
}

on_both_runtimes! {
    async fn a_stale_entry_of_a_dead_owner_does_not_block_the_name() {
        // Elixir "has unique registrations even if partition is delayed": the
        // dead owner's entry is replaced at once.
        let system = System::new();
        let a = system.spawn::<Holder>(()).await.unwrap();
        a.call(Op::Register(HELLO, None)).await.unwrap().unwrap();
        a.kill();
        a.join().await;
        let b = system.spawn::<Holder>(()).await.unwrap();
        assert_eq!(b.call(Op::Register(HELLO, None)).await, Ok(Ok(())));
        assert_eq!(system.whereis(&HELLO), Some(b));
    }
}

on_both_runtimes! {
    /// Elixir's `{:via, Registry, {registry, key, value}}`: a name given at
    /// start carries a value, which goes with the name when its owner dies.
    async fn a_name_given_at_start_carries_its_value_until_the_owner_dies() {
        let system = System::new();
        let options = SpawnOptions::new().name_with(HELLO, 7u32);
        let holder = system.spawn_with::<Holder>((), options).await.unwrap();
        assert_eq!(system.whereis(&HELLO), Some(holder.clone()));
        assert_eq!(system.registry().value::<u32>(HELLO.as_str()), Some(7));
        holder.kill();
        holder.join().await;
        assert_eq!(system.whereis(&HELLO), None);
        assert_eq!(system.registry().value::<u32>(HELLO.as_str()), None);
    }
}

on_both_runtimes! {
    async fn registering_a_dead_actor_is_refused() {
        #[derive(Clone)]
        struct Nothing;
        impl Event for Nothing {
            const TOPIC: &'static str = "nothing";
        }
        impl HandleEvent<Nothing> for Holder {
            async fn handle_event(&mut self, _: Nothing, _: &mut Context<Self>) -> Result<(), ExitReason> {
                Ok(())
            }
        }
        let system = System::new();
        let a = system.spawn::<Holder>(()).await.unwrap();
        a.kill();
        within("death", a.join()).await;
        assert_eq!(system.registry().subscribe::<Nothing, _>(&a), Err(RegistryError::NoProc));
        assert_eq!(system.registry().stats().subscriptions, 0);
    }
}

/// A named counter that crashes on request (for addressing by name).
struct Tally(u64);

const TALLY: Name<Tally> = Name::new("tally");

impl Actor for Tally {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Tally(0))
    }
}

impl HandleCall<u64> for Tally {
    type Reply = u64;
    async fn handle_call(&mut self, by: u64, _: &mut Context<Self>) -> Reply<u64> {
        self.0 += by;
        Reply::new(self.0)
    }
}

impl HandleCast<&'static str> for Tally {
    async fn handle_cast(&mut self, what: &'static str, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom(what))
    }
}

on_both_runtimes! {
    /// `GenServer.call(via(...))`: a name reaches whoever holds it at each
    /// send, `noproc` when nobody does, and the restarted incarnation once
    /// its supervisor re-registered it.
    async fn a_name_addresses_whoever_holds_it_now_a_restarted_child_included() {
        let system = System::new();
        let tally = system.via(TALLY);
        assert_eq!(tally.call(1).await, Err(CallError::NoProc));
        assert!(matches!(tally.cast("crash").await, Err(SendError::NoProc("crash"))), "the message comes back");
        let spec = ChildSpec::<Tally>::worker("tally", ()).name(TALLY);
        let _sup = system.start(Supervisor::one_for_one().child(spec)).await.unwrap();
        assert_eq!(tally.call(2).await, Ok(2));
        assert_eq!(tally.call(3).await, Ok(5));
        let first = tally.whereis().unwrap();
        tally.cast("crash").await.unwrap();
        assert_eq!(first.join().await, ExitReason::custom("crash"));
        until("the name is re-registered", || tally.whereis().is_some_and(|now| now != first)).await;
        assert_eq!(tally.call(4).await, Ok(4), "the new incarnation, with fresh state");
    }
}

on_both_runtimes! {
    async fn a_name_handle_does_not_keep_its_system_alive() {
        let system = System::new();
        let holder = system.spawn_with::<Tally>((), SpawnOptions::new().name(TALLY)).await.unwrap();
        let tally = system.via(TALLY);
        assert_eq!(tally.call(1).await, Ok(1));
        drop(system); // the last user-owned handle: the System halts
        assert_eq!(holder.join().await, ExitReason::Killed);
        assert_eq!(tally.call(1).await, Err(CallError::NoProc));
        assert!(tally.whereis().is_none());
    }
}

on_both_runtimes! {
    /// Elixir's update_value (only the holder may), select, count and
    /// count_select: over live holders only.
    async fn values_are_updated_by_their_holder_and_queried_by_anyone() {
        let system = System::new();
        let a = system.spawn::<Holder>(()).await.unwrap();
        let b = system.spawn::<Holder>(()).await.unwrap();
        a.call(Op::Register(HELLO, None)).await.unwrap().unwrap();
        b.call(Op::Register(WORLD, None)).await.unwrap().unwrap();
        assert_eq!(a.call(Op::Bump(HELLO)).await, Ok(Ok(())));
        assert_eq!(a.call(Op::Bump(HELLO)).await, Ok(Ok(())));
        assert_eq!(system.registry().value::<u32>("hello"), Some(2));
        assert_eq!(b.call(Op::Bump(HELLO)).await, Ok(Err(RegistryError::NotOwner(a.pid()))));
        assert_eq!(a.call(Op::Bump(Name::new("absent"))).await, Ok(Err(RegistryError::NotRegistered)));
        assert_eq!(system.registry().value::<u32>("hello"), Some(2), "a refused update changes nothing");
        b.call(Op::Bump(WORLD)).await.unwrap().unwrap();

        assert_eq!(system.registry().count(), 2);
        let mut above_one = system.registry().select(|_, count: &u32| *count > 1);
        assert_eq!(above_one.len(), 1);
        let (name, holder) = above_one.pop().unwrap();
        assert_eq!((name.as_str(), holder), ("hello", a.pid()));
        assert_eq!(system.registry().count_select(|_, _: &u32| true), 2);
        assert_eq!(system.registry().count_select(|_, _: &String| true), 0, "values of another type");

        a.kill();
        a.join().await;
        assert_eq!(system.registry().count(), 1);
        assert!(system.registry().select(|_, _: &u32| true).iter().all(|(name, _)| name == "world"));
    }
}
