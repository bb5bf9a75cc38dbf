//! Loom model of the sweeper's stop/start handshake: a caller registering a
//! deadline while the sweeper goes idle never leaves its entry with no
//! sweeper. It drives the real [`Running`]; the shard is a loom mutex over
//! an entry count.
//!
//! Run with `RUSTFLAGS="--cfg treeline_loom" cargo test --release --lib loom_`
//! (`.ci/run` does).

use std::sync::Arc;

use loom::sync::Mutex;

use super::Running;

#[test]
fn loom_a_registration_never_outlives_the_sweeper_unseen() {
    loom::model(|| {
        let running = Arc::new(Running::new());
        assert!(running.claim(), "the first registration starts the sweeper");
        let entries = Arc::new(Mutex::new(0usize));
        let registrant = {
            let (running, entries) = (running.clone(), entries.clone());
            loom::thread::spawn(move || {
                *entries.lock().unwrap() += 1;
                running.claim()
            })
        };
        // The sweeper found nothing to do and goes idle.
        let resumed = running.release(|| *entries.lock().unwrap() > 0);
        let started = registrant.join().unwrap();
        // Exactly one sweeper serves the entry: the idle one resumed, or the
        // registrant started a new one, never both, never neither.
        assert!(resumed ^ started, "resumed: {resumed}, started: {started}");
        assert!(running.is_set());
    });
}

#[test]
fn loom_two_registrants_start_one_sweeper() {
    loom::model(|| {
        let running = Arc::new(Running::new());
        let spawn = |running: Arc<Running>| loom::thread::spawn(move || running.claim());
        let (a, b) = (spawn(running.clone()), spawn(running.clone()));
        let started = usize::from(a.join().unwrap()) + usize::from(b.join().unwrap());
        assert_eq!(started, 1);
    });
}
