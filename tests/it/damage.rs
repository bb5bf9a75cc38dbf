//! A randomized campaign of on-disk damage against a real journal directory:
//! bit flips, truncations, deletions, a directory or an empty file or
//! garbage in place of a file, stray files, and two damages at once, on
//! every segment and on `CONTROL`, not only the last segment.
//!
//! Each round copies one of a few journals (written through the public API:
//! two queues, acked and pending messages, reclamation and copy-forward on
//! 4 KiB segments) into a fresh directory, damages it, and opens it:
//! * refused: the error must be typed (`Corrupt` or `UnsupportedVersion`),
//!   and the same directory opened under `Recovery::SkipDamaged` must open,
//!   say what it skipped, and deliver nothing that was never sent;
//! * opened: every pending message must come back, no acked one, nothing
//!   invented, unless recovery reported a torn-tail cut (then only what
//!   the cut could hold may be missing).
//!
//! `TREELINE_DAMAGE_ROUNDS` sets the number of rounds (default 120 for a
//! plain `cargo test`; `.ci/run` runs 1,000); `TREELINE_DAMAGE_SEED` replays
//! a campaign.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use treeline::durable::{DurableQueue, JournalConfig};
use treeline::journal::{JournalError, Recovery, RecoveryReport, Storage};
use treeline::test_util::{Crash, FaultyStorage};
use treeline::{Actor, Context, ExitReason, HandleCast, InitError, System};

/// Consumes one durable queue of strings, forwarding each message's text.
struct Drain {
    to: mpsc::UnboundedSender<String>,
}

impl Actor for Drain {
    type Args = (DurableQueue<String>, mpsc::UnboundedSender<String>);

    async fn init((queue, to): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.consume(&queue).map_err(|error| InitError::Stop(ExitReason::error(error)))?;
        Ok(Drain { to })
    }
}

impl HandleCast<String> for Drain {
    async fn handle_cast(&mut self, text: String, _: &mut Context<Self>) -> Result<(), ExitReason> {
        let _ = self.to.send(text);
        Ok(())
    }
}

/// A xorshift generator: the campaign replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A journal as the public API writes it, and what it must hold.
struct Journal {
    files: Vec<(String, Vec<u8>)>,
    /// Confirmed and never acked: must come back.
    pending: BTreeSet<String>,
    /// Acked (durably: a confirmed send followed every ack).
    acked: BTreeSet<String>,
}

const QUEUES: [&str; 2] = ["a", "b"];

fn config(dir: &Path) -> JournalConfig {
    JournalConfig::dir(dir).segment_size(4096)
}

fn message(queue: &str, n: usize, rng: &mut Rng) -> String {
    format!("{queue}-{n:03}-{}", "x".repeat(rng.below(300)))
}

/// Writes a journal: messages to both queues, the first part of `a` acked
/// (so early segments are reclaimed or copied forward), then more of both.
async fn write_journal(seed: u64) -> Journal {
    let mut rng = Rng(seed | 1);
    let storage = FaultyStorage::new();
    let system = System::with_journal(JournalConfig::storage(storage.clone()).segment_size(4096)).unwrap();
    let a = system.durable_queue::<String>("a").await.unwrap();
    let b = system.durable_queue::<String>("b").await.unwrap();
    let mut pending = BTreeSet::new();
    let mut acked = BTreeSet::new();
    let early = 10 + rng.below(20);
    for n in 0..early {
        let text = message("a", n, &mut rng);
        a.cast(text.clone()).await.unwrap();
        acked.insert(text);
        if rng.below(3) == 0 {
            let text = message("b", n, &mut rng);
            b.cast(text.clone()).await.unwrap();
            pending.insert(text);
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let drain = system.spawn::<Drain>((a.clone(), tx)).await.unwrap();
    for _ in 0..early {
        rx.recv().await.unwrap();
    }
    while a.stats().acked < early as u64 {
        tokio::task::yield_now().await;
    }
    drain.stop(ExitReason::Normal).await.unwrap();
    for n in early..early + 20 + rng.below(30) {
        let queue = if rng.below(2) == 0 { &a } else { &b };
        let text = message(if std::ptr::eq(queue, &a) { "a" } else { "b" }, n + 100, &mut rng);
        queue.cast(text.clone()).await.unwrap();
        pending.insert(text);
    }
    // Every ack was submitted before this confirmed send: all are durable.
    b.cast("fence".to_owned()).await.unwrap();
    pending.insert("fence".to_owned());
    let image = storage.crash(Crash::Process);
    std::mem::forget(system); // a kill: nothing is written after the image
    let files = image.list().unwrap().into_iter().filter(|name| name != "LOCK").map(|name| {
        let bytes = image.live(&name).unwrap();
        (name, bytes)
    });
    Journal { files: files.collect(), pending, acked }
}

/// What opening a damaged directory gave.
enum Opened {
    Refused(JournalError),
    /// The messages delivered, and what recovery reported.
    Delivered(Vec<String>, RecoveryReport),
}

async fn open_and_drain(dir: &Path, policy: Recovery) -> Opened {
    let system = match System::with_journal(config(dir).recovery(policy)) {
        Ok(system) => system,
        Err(error) => return Opened::Refused(error),
    };
    let report = system.journal_recovery().unwrap();
    let mut seen = Vec::new();
    for name in QUEUES {
        let queue = system.durable_queue::<String>(name).await.unwrap();
        let pending = queue.stats().pending;
        let (tx, mut rx) = mpsc::unbounded_channel();
        system.spawn::<Drain>((queue, tx)).await.unwrap();
        for _ in 0..pending {
            let text = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("a pending message of {name} was never delivered"))
                .unwrap();
            seen.push(text);
        }
    }
    system.shutdown().await;
    Opened::Delivered(seen, report)
}

/// Damages the copy in `dir`; returns what was done.
fn damage(dir: &Path, journal: &Journal, rng: &mut Rng) -> String {
    let (name, bytes) = &journal.files[rng.below(journal.files.len())];
    let path = dir.join(name);
    let len = bytes.len();
    match rng.below(9) {
        0 | 1 => {
            // Mostly where something was written, sometimes anywhere.
            let written = bytes.iter().rposition(|&b| b != 0).map_or(len, |last| last + 1);
            let offset = if rng.below(4) == 0 { rng.below(len) } else { rng.below(written) };
            let bit = rng.below(8);
            let mut copy = bytes.clone();
            copy[offset] ^= 1 << bit;
            std::fs::write(&path, copy).unwrap();
            format!("flip bit {bit} at {offset} of {name}")
        }
        2 => {
            let cut = rng.below(len);
            std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(cut as u64).unwrap();
            format!("truncate {name} to {cut}")
        }
        3 => {
            std::fs::remove_file(&path).unwrap();
            format!("delete {name}")
        }
        4 => {
            std::fs::remove_file(&path).unwrap();
            std::fs::create_dir(&path).unwrap();
            format!("a directory in place of {name}")
        }
        5 => {
            std::fs::write(&path, b"").unwrap();
            format!("empty {name}")
        }
        6 => {
            let garbage: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            std::fs::write(&path, garbage).unwrap();
            format!("garbage in {name}")
        }
        7 => {
            let last =
                journal.files.iter().filter_map(|(name, _)| name.strip_suffix(".seg")?.parse::<u64>().ok()).max();
            let stray = match rng.below(3) {
                0 => "junk".to_owned(),
                1 => format!("{:020}.seg", last.unwrap_or(0) + 1),
                _ => "CONTROL.old".to_owned(),
            };
            let size = [0, 17, 4096][rng.below(3)];
            let contents: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            std::fs::write(dir.join(&stray), contents).unwrap();
            format!("stray file {stray} of {size} bytes")
        }
        _ => {
            let mut done = Vec::new();
            for _ in 0..2 {
                let (name, bytes) = &journal.files[rng.below(journal.files.len())];
                let written = bytes.iter().rposition(|&b| b != 0).map_or(bytes.len(), |last| last + 1);
                let offset = rng.below(written);
                let mut copy = std::fs::read(dir.join(name)).unwrap();
                copy[offset] ^= 1 << rng.below(8);
                std::fs::write(dir.join(name), copy).unwrap();
                done.push(format!("flip at {offset} of {name}"));
            }
            done.join(" and ")
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    rounds: usize,
    refused: usize,
    opened_clean: usize,
    tail_cut: usize,
    skipped_open: usize,
    lost_with_report: usize,
    silent_losses: usize,
    resurrected: usize,
    invented: usize,
}

#[test]
fn random_damage_is_reported_never_silent() {
    let rounds: usize = std::env::var("TREELINE_DAMAGE_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(120);
    let seed: u64 = std::env::var("TREELINE_DAMAGE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("damage campaign: {rounds} rounds, TREELINE_DAMAGE_SEED={seed}");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let journals: Vec<Journal> = (0..4).map(|n| runtime.block_on(write_journal(seed.wrapping_add(n)))).collect();
    let mut rng = Rng(seed | 1);
    let mut tally = Tally::default();
    let root = std::env::temp_dir().join(format!("treeline-damage-{}-{seed}", std::process::id()));
    for round in 0..rounds {
        let journal = &journals[round % journals.len()];
        let dir = root.join(round.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &journal.files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let what = damage(&dir, journal, &mut rng);
        let context = format!("round {round} (seed {seed}): {what}");
        tally.rounds += 1;
        let check = |seen: &[String], tally: &mut Tally| {
            let unique: BTreeSet<&String> = seen.iter().collect();
            if unique.len() != seen.len()
                || seen.iter().any(|text| !journal.pending.contains(text) && !journal.acked.contains(text))
            {
                tally.invented += 1;
                eprintln!("{context}: delivered what was never sent, or twice: {seen:?}");
            }
        };
        match runtime.block_on(open_and_drain(&dir, Recovery::Refuse)) {
            Opened::Refused(error) => {
                assert!(
                    matches!(error, JournalError::Corrupt { .. } | JournalError::UnsupportedVersion { .. }),
                    "{context}: refused with an untyped error: {error}"
                );
                tally.refused += 1;
                match runtime.block_on(open_and_drain(&dir, Recovery::SkipDamaged)) {
                    Opened::Delivered(seen, report) => {
                        assert!(!report.skipped.is_empty() || report.tail_cut.is_some(), "{context}: skipped nothing");
                        check(&seen, &mut tally);
                        tally.skipped_open += 1;
                    }
                    Opened::Refused(error) => {
                        assert!(
                            matches!(error, JournalError::UnsupportedVersion { .. }),
                            "{context}: SkipDamaged refused: {error}"
                        );
                    }
                }
                // The directory is clean now: it opens again under the default.
                if let Opened::Refused(error) = runtime.block_on(open_and_drain(&dir, Recovery::Refuse)) {
                    assert!(
                        matches!(error, JournalError::UnsupportedVersion { .. }),
                        "{context}: still damaged after SkipDamaged: {error}"
                    );
                }
            }
            Opened::Delivered(seen, report) => {
                check(&seen, &mut tally);
                let seen: BTreeSet<String> = seen.into_iter().collect();
                let lost = journal.pending.difference(&seen).count();
                let back = journal.acked.intersection(&seen).count();
                let reported = report.tail_cut.is_some();
                if reported {
                    tally.tail_cut += 1;
                } else {
                    tally.opened_clean += 1;
                }
                match (lost + back, reported) {
                    (0, _) => {}
                    (_, true) => tally.lost_with_report += 1,
                    (_, false) => {
                        tally.silent_losses += usize::from(lost > 0);
                        tally.resurrected += usize::from(back > 0);
                        eprintln!("{context}: opened without a report, {lost} lost, {back} acked came back");
                    }
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let _ = std::fs::remove_dir_all(&root);
    eprintln!("damage campaign: {tally:?}");
    assert_eq!((tally.silent_losses, tally.resurrected, tally.invented), (0, 0, 0), "{tally:?} (seed {seed})");
}
