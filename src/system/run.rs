//! An application's `main`: run a tree until it is told to stop or its root
//! dies, then shut the System down and say how it ended.

use std::future::Future;
use std::process::ExitCode;

use super::System;
use crate::addr::Pid;
use crate::exit::ExitReason;

/// How [`System::run_until`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunOutcome {
    /// The stop future completed (ctrl-c, a shutdown request): the System
    /// was shut down in order.
    Stopped,
    /// The root exited on its own, with this reason, and the rest of the
    /// System was shut down. A supervisor that reached its restart
    /// intensity exits `Shutdown` (as OTP's does).
    RootExited(ExitReason),
}

impl RunOutcome {
    /// The process exit code: success when stopped on request or when the
    /// root finished `Normal`; failure when the root exited otherwise (a
    /// supervisor that gave up, a crash), so that a service manager sees
    /// the failure and can restart the program.
    ///
    /// An application whose root ends on purpose with `auto_shutdown`
    /// also exits `Shutdown` (OTP does not tell the two apart either):
    /// match [`RunOutcome::RootExited`] to treat that as success.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            RunOutcome::Stopped | RunOutcome::RootExited(ExitReason::Normal) => ExitCode::SUCCESS,
            RunOutcome::RootExited(_) => ExitCode::FAILURE,
        }
    }
}

impl System {
    /// Runs until `stop` completes or `root` exits, whichever comes first,
    /// then shuts the System down ([`System::shutdown`]: every actor
    /// stopped, newest first, the journal closed) and returns how it ended.
    ///
    /// `stop` is any future: `tokio::signal::ctrl_c()` in a service, a
    /// channel in a test. The System does not install signal handlers
    /// itself.
    ///
    /// ```no_run
    /// use std::process::ExitCode;
    /// use treeline::{Actor, ChildSpec, Context, InitError, Supervisor, System};
    ///
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Worker) }
    /// }
    ///
    /// #[tokio::main]
    /// async fn main() -> ExitCode {
    ///     let system = System::new();
    ///     let tree = Supervisor::one_for_one().child(ChildSpec::<Worker>::worker("worker", ()));
    ///     let root = match system.start(tree).await {
    ///         Ok(root) => root,
    ///         Err(error) => {
    ///             eprintln!("the application did not start: {error}");
    ///             return ExitCode::FAILURE;
    ///         }
    ///     };
    ///     let ctrl_c = async {
    ///         let _ = tokio::signal::ctrl_c().await;
    ///     };
    ///     let outcome = system.run_until(root.pid(), ctrl_c).await;
    ///     eprintln!("stopped: {outcome:?}");
    ///     outcome.exit_code() // non-zero when the root supervisor gave up
    /// }
    /// ```
    pub async fn run_until(&self, root: impl Into<Pid>, stop: impl Future<Output = ()>) -> RunOutcome {
        let root = root.into();
        let outcome = tokio::select! {
            reason = root.join() => RunOutcome::RootExited(reason),
            () = stop => RunOutcome::Stopped,
        };
        self.shutdown().await;
        outcome
    }
}
