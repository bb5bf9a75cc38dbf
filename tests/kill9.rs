//! The kill -9 test of durable mailboxes : a real child
//! process, killed with SIGKILL at random moments, over and over, on one
//! journal directory; then a history checker judges what every run saw.
//!
//! The parent re-executes this binary as the child (`--child DIR ROUND`).
//! The child opens a System on the journal in DIR (`FsyncPolicy::Always`),
//! consumes the durable queue `k9` with an actor that prints
//! `H <id> <attempt> <redelivered>` when a handler starts, and runs four
//! producers that each send ids in order and print `C <id>` once a send is
//! confirmed. The parent reads those lines over a pipe (the evidence
//! outlives the child) and kills the child 0–50 ms after starting it:
//! sometimes during recovery, sometimes mid-write. After the rounds, a
//! `--drain` child consumes what is left and prints `DRAINED` when the queue
//! is empty.
//!
//! Checks: no confirmed message is lost; nothing is
//! invented; within a run each producer's messages are handled in order and
//! at most once; the attempt count never goes down and `redelivered` is
//! exactly `attempt > 1`; and an ack is never undone once a later delivery
//! was durable (if the message after X in a run comes back with a higher
//! attempt, the journal kept its delivery, hence X's ack before it, so X
//! never comes back).
//!
//! `KILL9_ROUNDS` overrides the number of rounds (default 60 for a plain
//! `cargo test`; `.ci/run` runs 300).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use treeline::durable::JournalConfig;
use treeline::{Actor, Context, ExitReason, HandleCast, InitError, System};

const PRODUCERS: u64 = 4;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--child") => child(Path::new(&args[2]), args[3].parse().expect("round"), false),
        Some("--drain") => child(Path::new(&args[2]), 0, true),
        _ => parent(),
    }
}

// ------------------------------------------------------------------ child --

struct Consumer;

impl Actor for Consumer {
    type Args = treeline::durable::DurableQueue<u64>;

    async fn init(queue: treeline::durable::DurableQueue<u64>, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.consume(&queue).map_err(|e| InitError::Stop(ExitReason::error(e)))?;
        Ok(Consumer)
    }
}

impl HandleCast<u64> for Consumer {
    async fn handle_cast(&mut self, id: u64, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let d = ctx.delivery().expect("durable");
        println!("H {id} {} {}", d.attempt, d.redelivered);
        tokio::task::yield_now().await;
        Ok(())
    }
}

fn child(dir: &Path, round: u64, drain: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let system = System::with_journal(JournalConfig::dir(dir).segment_size(64 << 10)).expect("journal opens");
        let queue = system.durable_queue::<u64>("k9").await.expect("queue");
        system.spawn::<Consumer>(queue.clone()).await.expect("consumer");
        if drain {
            while queue.stats().pending > 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            println!("DRAINED");
            return;
        }
        let mut producers = Vec::new();
        for producer in 0..PRODUCERS {
            let queue = queue.clone();
            producers.push(tokio::spawn(async move {
                for n in 0.. {
                    let id = round * 1_000_000 + producer * 100_000 + n;
                    queue.cast(id).await.expect("send");
                    println!("C {id}");
                }
            }));
        }
        futures::future::join_all(producers).await;
    });
}

// ----------------------------------------------------------------- parent --

/// xorshift64*: enough randomness for kill times.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// One child run's evidence, in the order it was printed.
#[derive(Default)]
struct Run {
    confirmed: Vec<u64>,
    /// (id, attempt, redelivered)
    handled: Vec<(u64, u32, bool)>,
    drained: bool,
}

fn run_child(exe: &Path, args: &[&str], kill_after: Option<Duration>) -> Run {
    let mut child = Command::new(exe).args(args).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut run = Run::default();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["C", id] => run.confirmed.push(id.parse().unwrap()),
                ["H", id, attempt, redelivered] => {
                    run.handled.push((id.parse().unwrap(), attempt.parse().unwrap(), redelivered.parse().unwrap()))
                }
                ["DRAINED"] => run.drained = true,
                // A line cut by the kill is only lost evidence.
                _ => {}
            }
        }
        run
    });
    match kill_after {
        Some(after) => {
            std::thread::sleep(after);
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        None => {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "drain run failed: {status}");
                    break;
                }
                assert!(Instant::now() < deadline, "drain run did not finish");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    reader.join().unwrap()
}

fn parent() {
    let rounds: u64 = std::env::var("KILL9_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(60);
    let exe = std::env::current_exe().unwrap();
    let dir: PathBuf = std::env::temp_dir().join(format!("treeline-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut runs = Vec::new();
    for round in 1..=rounds {
        let kill_after = Duration::from_millis(rng.below(51));
        let dir_arg = dir.to_str().unwrap().to_owned();
        runs.push(run_child(&exe, &["--child", &dir_arg, &round.to_string()], Some(kill_after)));
    }
    let drain = run_child(&exe, &["--drain", dir.to_str().unwrap()], None);
    assert!(drain.drained, "the drain run did not report an empty queue");
    runs.push(drain);
    let report = check(&runs);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "kill9: {rounds} rounds in {:.1}s (seed {seed}): {} confirmed, {} handled, {} redelivered, 0 lost",
        started.elapsed().as_secs_f64(),
        report.confirmed,
        report.handled,
        report.redelivered,
    );
    assert!(report.confirmed > 0, "no send was ever confirmed: the test proved nothing");
}

struct Report {
    confirmed: usize,
    handled: usize,
    redelivered: usize,
}

/// The history checker; panics with the first violation.
fn check(runs: &[Run]) -> Report {
    let confirmed: BTreeSet<u64> = runs.iter().flat_map(|run| run.confirmed.iter().copied()).collect();
    let mut handled_anywhere = BTreeSet::new();
    // id -> (run, attempt) in run order
    let mut history: BTreeMap<u64, Vec<(usize, u32)>> = BTreeMap::new();
    let mut redelivered = 0;
    for (index, run) in runs.iter().enumerate() {
        let mut last_per_producer: BTreeMap<u64, u64> = BTreeMap::new();
        let mut seen_in_run = BTreeSet::new();
        for &(id, attempt, flag) in &run.handled {
            let round = id / 1_000_000;
            let producer = id % 1_000_000 / 100_000;
            assert!(round >= 1 && round as usize <= index + 1 && producer < PRODUCERS, "invented message {id}");
            assert!(attempt >= 1 && flag == (attempt > 1), "{id}: attempt {attempt} with redelivered={flag}");
            assert!(seen_in_run.insert(id), "{id} handled twice in run {index} with no crash between");
            let key = round * PRODUCERS + producer;
            if let Some(&last) = last_per_producer.get(&key) {
                assert!(id > last, "run {index}: {id} handled after {last} of the same producer");
            }
            last_per_producer.insert(key, id);
            let entries = history.entry(id).or_default();
            if let Some(&(_, previous)) = entries.last() {
                assert!(attempt >= previous, "{id}: attempt went down from {previous} to {attempt}");
            }
            entries.push((index, attempt));
            handled_anywhere.insert(id);
            redelivered += usize::from(flag);
        }
    }
    let lost: Vec<&u64> = confirmed.difference(&handled_anywhere).collect();
    assert!(
        lost.is_empty(),
        "{} confirmed messages never delivered, first {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // An ack is never undone once a later delivery was durable. If `next`
    // (handled after X in run r) comes back in a later run r* with a higher
    // attempt, some delivery of it in runs r..r* reached the journal, and
    // with it the ack of X that preceded it in that run: X must not appear
    // in r* or after.
    for (index, run) in runs.iter().enumerate() {
        for (position, &(next, attempt, _)) in run.handled.iter().enumerate().skip(1) {
            let Some(&(kept_by, _)) = history[&next].iter().find(|&&(later, a)| later > index && a > attempt) else {
                continue;
            };
            for &(earlier, _, _) in &run.handled[..position] {
                let back = history[&earlier].iter().find(|&&(later, _)| later >= kept_by);
                assert!(
                    back.is_none(),
                    "{earlier} was acked before {next} in run {index}; {next} came back in run {kept_by} with a \
                     higher attempt, yet {earlier} came back in run {}",
                    back.unwrap().0
                );
            }
        }
    }
    Report { confirmed: confirmed.len(), handled: runs.iter().map(|run| run.handled.len()).sum(), redelivered }
}
