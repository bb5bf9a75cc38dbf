//! `Scripted`: a test actor whose behaviour each test chooses, and which
//! reports every callback to a probe as `"<name>:<event>"`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use treeline::signal::{Down, Exit, IdleTimeout, MonitorRef};
use treeline::*;

use crate::support::Report;

/// How `init` behaves.
#[derive(Clone, Debug)]
pub(crate) enum InitMode {
    Ok,
    Ignore,
    Stop(ExitReason),
    Panic,
    Sleep(Duration),
    /// Sends itself `Do::Report("early")`, then continues with `c1`.
    ContinueAfterEarly,
    /// Fails (`Error("cannot start")`) while the flag is set.
    FailWhile(Arc<AtomicBool>),
    /// Ignores the start while the flag is set.
    IgnoreWhile(Arc<AtomicBool>),
}

/// The script.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    pub(crate) name: &'static str,
    pub(crate) report: Report,
    pub(crate) trap: bool,
    pub(crate) init: InitMode,
    pub(crate) terminate_sleep: Option<Duration>,
    pub(crate) terminate_panics: bool,
}

impl Script {
    pub(crate) fn new(name: &'static str, report: &Report) -> Self {
        Script {
            name,
            report: report.clone(),
            trap: false,
            init: InitMode::Ok,
            terminate_sleep: None,
            terminate_panics: false,
        }
    }

    pub(crate) fn trapping(mut self) -> Self {
        self.trap = true;
        self
    }

    pub(crate) fn init(mut self, mode: InitMode) -> Self {
        self.init = mode;
        self
    }

    pub(crate) fn slow_terminate(mut self, sleep: Duration) -> Self {
        self.terminate_sleep = Some(sleep);
        self
    }

    pub(crate) fn panicking_terminate(mut self) -> Self {
        self.terminate_panics = true;
        self
    }
}

pub(crate) struct Scripted {
    script: Script,
}

impl Scripted {
    fn say(&self, event: impl std::fmt::Display) {
        self.script.report.say(format!("{}:{}", self.script.name, event));
    }
}

impl Actor for Scripted {
    type Args = Script;

    async fn init(script: Script, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        if script.trap {
            ctx.trap_exit(true);
        }
        let actor = Scripted { script };
        match actor.script.init.clone() {
            InitMode::Ok => {}
            InitMode::Ignore => return Err(InitError::Ignore),
            InitMode::Stop(reason) => return Err(InitError::Stop(reason)),
            InitMode::Panic => panic!("init exploded"),
            InitMode::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                actor.say("init-done");
            }
            InitMode::FailWhile(flag) if flag.load(Ordering::SeqCst) => {
                actor.say("init-failed");
                return Err(InitError::stop("cannot start"));
            }
            InitMode::IgnoreWhile(flag) if flag.load(Ordering::SeqCst) => {
                actor.say("init-ignored");
                return Err(InitError::Ignore);
            }
            InitMode::FailWhile(_) | InitMode::IgnoreWhile(_) => {}
            InitMode::ContinueAfterEarly => {
                ctx.myself().try_cast(Do::Report("early".into())).expect("own mailbox");
                ctx.continue_with(Cont("c1"));
            }
        }
        actor.say("init");
        Ok(actor)
    }

    async fn terminate(&mut self, reason: &ExitReason, _ctx: &mut Context<Self>) {
        self.say(format_args!("terminate-start:{reason:?}"));
        if let Some(sleep) = self.script.terminate_sleep {
            tokio::time::sleep(sleep).await;
        }
        if self.script.terminate_panics {
            panic!("terminate exploded");
        }
        self.say(format_args!("terminate:{reason:?}"));
    }
}

/// One-way instructions.
#[derive(Debug)]
pub(crate) enum Do {
    Report(String),
    Stop(ExitReason),
    Panic(&'static str),
    Sleep(Duration),
    Link(Pid),
    Unlink(Pid),
    Monitor(Pid),
    Exit(Pid, ExitReason),
    IdleTimeout(Duration),
    Hibernate,
    /// Reports `blocked`, waits for a permit, reports `unblocked`: holds the
    /// actor in a handler, so that what is sent meanwhile stays queued (and
    /// `mailbox_len` counts it exactly).
    Block(Arc<tokio::sync::Semaphore>),
    /// `Block`, then `Demonitor` in the same handler.
    BlockThenDemonitor(Arc<tokio::sync::Semaphore>, MonitorRef),
}

impl HandleCast<Do> for Scripted {
    async fn handle_cast(&mut self, action: Do, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        match action {
            Do::Report(event) => self.say(format_args!("handled:{event}")),
            Do::Stop(reason) => return Err(reason),
            Do::Panic(message) => panic!("{message}"),
            Do::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                self.say("slept");
            }
            Do::Link(pid) => ctx.link(&pid),
            Do::Unlink(pid) => ctx.unlink(&pid),
            Do::Monitor(pid) => {
                let monitor = ctx.monitor(&pid);
                self.say(format_args!("monitoring:{monitor:?}"));
            }
            Do::Exit(pid, reason) => {
                ctx.exit(&pid, reason);
            }
            Do::IdleTimeout(timeout) => ctx.idle_timeout(timeout),
            Do::Hibernate => ctx.hibernate(),
            Do::Block(gate) => {
                self.say("blocked");
                gate.acquire().await.expect("gate open").forget();
                self.say("unblocked");
            }
            Do::BlockThenDemonitor(gate, monitor) => {
                self.say("blocked");
                gate.acquire().await.expect("gate open").forget();
                let removed = ctx.demonitor(monitor);
                self.say(format_args!("demonitor:{removed}"));
            }
        }
        Ok(())
    }
}

/// A call that returns the actor's name, or does something first.
#[derive(Debug)]
pub(crate) enum Ask {
    Name,
    Panic,
    StopWithReply(ExitReason),
    StopWithoutReply(ExitReason),
    ContextStop(ExitReason),
    Sleep(Duration),
    DropToken,
    DeferForever,
    /// Reports `call-blocked`, then waits for a permit before replying.
    Block(Arc<tokio::sync::Semaphore>),
}

impl HandleCall<Ask> for Scripted {
    type Reply = String;

    async fn handle_call(&mut self, ask: Ask, ctx: &mut Context<Self>) -> Reply<String> {
        match ask {
            Ask::Name => Reply::new(self.script.name.to_string()),
            Ask::Panic => panic!("call exploded"),
            Ask::StopWithReply(reason) => Reply::stop(reason, "bye".into()),
            Ask::StopWithoutReply(reason) => Reply::stop_without_reply(reason),
            Ask::ContextStop(reason) => {
                ctx.stop(reason);
                Reply::new("stopping".into())
            }
            Ask::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                Reply::new("awake".into())
            }
            Ask::DropToken => {
                let (reply, token) = Reply::deferred();
                drop(token);
                reply
            }
            Ask::Block(gate) => {
                self.say("call-blocked");
                gate.acquire().await.expect("gate open").forget();
                Reply::new("unblocked".into())
            }
            Ask::DeferForever => {
                let (reply, token) = Reply::deferred();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    token.send("too late".into());
                });
                reply
            }
        }
    }
}

/// A continuation label.
#[derive(Debug)]
pub(crate) struct Cont(pub &'static str);

impl HandleContinue<Cont> for Scripted {
    async fn handle_continue(&mut self, Cont(label): Cont, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.say(format_args!("continue:{label}"));
        if label == "c1" {
            ctx.continue_with(Cont("c2"));
        }
        Ok(())
    }
}

impl HandleInfo<Down> for Scripted {
    async fn handle_info(&mut self, down: Down, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.say(format_args!("down:{:?}:{}:{:?}", down.monitor, down.id, down.reason));
        Ok(())
    }
}

impl HandleInfo<Exit> for Scripted {
    async fn handle_info(&mut self, exit: Exit, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.say(format_args!("exit:{}:{:?}", exit.from, exit.reason));
        Ok(())
    }
}

impl HandleInfo<IdleTimeout> for Scripted {
    async fn handle_info(&mut self, _: IdleTimeout, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.say("timed-out");
        Ok(())
    }
}

/// Spawns a `Scripted` actor at top level.
pub(crate) async fn spawn(system: &System, script: Script) -> ActorRef<Scripted> {
    system.spawn::<Scripted>(script).await.expect("scripted actor starts")
}

/// Monitors a target and returns the monitor.
#[derive(Debug)]
pub(crate) struct MonitorIt(pub Pid);

impl HandleCall<MonitorIt> for Scripted {
    type Reply = MonitorRef;
    async fn handle_call(&mut self, MonitorIt(pid): MonitorIt, ctx: &mut Context<Self>) -> Reply<MonitorRef> {
        Reply::new(ctx.monitor(&pid))
    }
}

/// Removes a monitor; replies whether it was known.
#[derive(Debug)]
pub(crate) struct DemonitorIt(pub MonitorRef);

impl HandleCall<DemonitorIt> for Scripted {
    type Reply = bool;
    async fn handle_call(&mut self, DemonitorIt(monitor): DemonitorIt, ctx: &mut Context<Self>) -> Reply<bool> {
        Reply::new(ctx.demonitor(monitor))
    }
}
