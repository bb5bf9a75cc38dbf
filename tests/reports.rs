//! Crash and supervisor reports as a user sees them: each scenario runs in a
//! child process (this binary, re-executed with `--child <scenario>`) that
//! prints through a real `tracing-subscriber` fmt layer on stderr, with
//! `RUST_BACKTRACE=1`; the parent reads the child's whole stderr and exit
//! status.
//!
//! A child process, not a subscriber inside the test: what is checked
//! includes what Rust's panic machinery prints, which only a whole process
//! shows (the panic hook is process-wide), and the exit code of a program
//! whose root supervisor gave up.
//!
//! Checks: a handler returning an error gives one crash report (naming the
//! actor's kind, its supervisor, the message type and the reason) and one
//! restart report; a panic gives one crash report with its location and
//! nothing from Rust's default hook (no "panicked at", no backtrace), while
//! a hook installed before the System still sees a panic outside actors; a
//! supervisor that reaches its intensity gives one give-up report naming
//! the restarts counted, and `run_until`'s exit code is a failure.

use std::process::{Command, ExitCode};

use treeline::supervisor::ChildSpec;
use treeline::{Actor, Context, ExitReason, HandleCall, HandleCast, InitError, Reply, Supervisor, System};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test` passes harness flags (`--quiet`, filters): only
    // `--child <scenario>` makes a child.
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        return child(&args[at + 1]);
    }
    parent();
    ExitCode::SUCCESS
}

// ------------------------------------------------------------------ child --

struct Billing;

impl Actor for Billing {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Billing)
    }
}

struct ChargeCard;
struct Explode;
struct Ping;

impl HandleCast<ChargeCard> for Billing {
    async fn handle_cast(&mut self, _: ChargeCard, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom("card declined"))
    }
}

impl HandleCast<Explode> for Billing {
    async fn handle_cast(&mut self, _: Explode, _: &mut Context<Self>) -> Result<(), ExitReason> {
        panic!("boom");
    }
}

impl HandleCall<Ping> for Billing {
    type Reply = ();
    async fn handle_call(&mut self, _: Ping, _: &mut Context<Self>) -> Reply<()> {
        Reply::new(())
    }
}

fn child(scenario: &str) -> ExitCode {
    tracing_subscriber::fmt().with_ansi(false).without_time().with_writer(std::io::stderr).init();
    // The application's own hook, installed before any System.
    std::panic::set_hook(Box::new(|info| {
        let message = info.payload().downcast_ref::<&str>().copied().unwrap_or("?");
        eprintln!("USER HOOK: {message}");
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let system = System::new();
        let billing = ChildSpec::<Billing>::worker("billing", ());
        let handle = billing.child_ref();
        let intensity = if scenario == "give_up" { 1 } else { 3 };
        let tree = Supervisor::one_for_one().intensity(intensity, std::time::Duration::from_secs(3600)).child(billing);
        let root = system.start(tree).await.expect("the tree starts");
        let first = handle.id().expect("billing runs");
        match scenario {
            "handler_error" => {
                handle.cast(ChargeCard).await.expect("sent");
                handle.restarted(first).await.call(Ping).await.expect("the restarted child answers");
            }
            "panic" => {
                handle.cast(Explode).await.expect("sent");
                handle.restarted(first).await.call(Ping).await.expect("the restarted child answers");
                // A panic outside any actor still reaches the user's hook.
                let _ = std::thread::spawn(|| panic!("outside")).join();
            }
            "give_up" => {
                handle.cast(ChargeCard).await.expect("sent");
                let second = handle.restarted(first).await;
                second.cast(ChargeCard).await.expect("sent");
            }
            other => panic!("unknown scenario {other}"),
        }
        if scenario == "give_up" {
            // Runs until the root gives up.
            system.run_until(root.pid(), std::future::pending()).await.exit_code()
        } else {
            system.run_until(root.pid(), async {}).await.exit_code()
        }
    })
}

// ----------------------------------------------------------------- parent --

struct Run {
    stderr: String,
    success: bool,
}

impl Run {
    fn lines(&self, needle: &str) -> Vec<&str> {
        self.stderr.lines().filter(|line| line.contains(needle)).collect()
    }

    fn expect_one(&self, needle: &str) -> &str {
        let lines = self.lines(needle);
        assert_eq!(lines.len(), 1, "one line with {needle:?} expected; stderr:\n{}", self.stderr);
        lines[0]
    }
}

fn run(scenario: &str) -> Run {
    let exe = std::env::current_exe().expect("the test binary");
    let output =
        Command::new(exe).args(["--child", scenario]).env("RUST_BACKTRACE", "1").output().expect("the child runs");
    Run { stderr: String::from_utf8_lossy(&output.stderr).into_owned(), success: output.status.success() }
}

fn parent() {
    handler_error();
    panic();
    give_up();
    println!("reports: 3 scenarios passed");
}

fn handler_error() {
    let run = run("handler_error");
    assert!(run.success, "stderr:\n{}", run.stderr);
    let crash = run.expect_one("treeline::crash");
    assert!(crash.starts_with("ERROR"), "{crash}");
    for part in
        ["actor billing <0.", "crashed while handling cast reports::ChargeCard: card declined", "supervisor=<0."]
    {
        assert!(crash.contains(part), "{part:?} missing from {crash}");
    }
    let restart = run.expect_one("treeline::supervisor");
    assert!(restart.starts_with(" INFO"), "{restart}");
    assert!(restart.contains("restarting child billing (exited: card declined; restart 1 of 3 allowed"), "{restart}");
}

fn panic() {
    let run = run("panic");
    assert!(run.success, "stderr:\n{}", run.stderr);
    let crash = run.expect_one("treeline::crash");
    assert!(
        crash.contains("crashed while handling cast reports::Explode: panicked: boom at tests/reports.rs:"),
        "{crash}"
    );
    assert!(crash.contains("location=\"tests/reports.rs:"), "{crash}");
    // Nothing from Rust's default hook, nor from the user's, for the actor's
    // panic; the user's hook still sees the one outside any actor.
    assert!(!run.stderr.contains("panicked at"), "stderr:\n{}", run.stderr);
    assert!(!run.stderr.contains("stack backtrace"), "stderr:\n{}", run.stderr);
    assert!(!run.stderr.contains("USER HOOK: boom"), "stderr:\n{}", run.stderr);
    run.expect_one("USER HOOK: outside");
    run.expect_one("restarting child billing");
}

fn give_up() {
    let run = run("give_up");
    assert!(!run.success, "a tree that gave up exits with a failure; stderr:\n{}", run.stderr);
    assert_eq!(run.lines("treeline::crash").len(), 2, "two crashes; stderr:\n{}", run.stderr);
    run.expect_one("restarting child billing");
    let gave_up = run.expect_one("gave up");
    assert!(gave_up.starts_with("ERROR"), "{gave_up}");
    assert!(
        gave_up.contains("child billing exited (card declined) and 2 restarts within 3600s exceed its intensity of 1"),
        "{gave_up}"
    );
    assert!(!run.stderr.contains("panicked at"), "stderr:\n{}", run.stderr);
}
