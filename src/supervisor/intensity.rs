//! Restart intensity: at most `max` restarts within a sliding `period`
//! (OTP's `intensity` and `period`, as `supervisor:add_restart/1` counts them).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The restart history of one supervisor.
#[derive(Debug)]
pub(crate) struct Intensity {
    max: u32,
    period: Duration,
    restarts: VecDeque<Instant>,
}

impl Intensity {
    pub(crate) fn new(max: u32, period: Duration) -> Self {
        Intensity { max, period, restarts: VecDeque::new() }
    }

    /// Records a restart at `now`. False when it exceeds the limit: the
    /// supervisor must give up. (`max` restarts are allowed; the one after
    /// them within `period` is not.)
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.restarts.front() {
            if now.saturating_duration_since(oldest) > self.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.push_back(now);
        self.restarts.len() <= self.max as usize
    }

    /// Restarts within the window ending `now`: what the intensity counts
    /// if a restart happens now (minus that one).
    pub(crate) fn within(&self, now: Instant) -> usize {
        self.restarts.iter().filter(|at| now.saturating_duration_since(**at) <= self.period).count()
    }

    /// Restarts recorded within the window as of the last [`Intensity::record`].
    pub(crate) fn recent(&self) -> usize {
        self.restarts.len()
    }

    pub(crate) fn max(&self) -> u32 {
        self.max
    }

    pub(crate) fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn n_restarts_are_allowed_and_the_next_one_is_not() {
        let start = Instant::now();
        let mut intensity = Intensity::new(2, Duration::from_secs(5));
        assert!(intensity.record(at(start, 0)));
        assert!(intensity.record(at(start, 100)));
        assert!(!intensity.record(at(start, 200)));
    }

    #[test]
    fn zero_intensity_gives_up_at_the_first_restart() {
        let mut intensity = Intensity::new(0, Duration::from_secs(5));
        assert!(!intensity.record(Instant::now()));
    }

    #[test]
    fn restarts_older_than_the_period_do_not_count() {
        // supervisor_SUITE:multiple_restarts: intensity 1 / 1 s, a crash every 2.1 s.
        let start = Instant::now();
        let mut intensity = Intensity::new(1, Duration::from_secs(1));
        for i in 0..4 {
            assert!(intensity.record(at(start, i * 2_100)));
        }
        // Two within the same second: the second exceeds.
        assert!(!intensity.record(at(start, 3 * 2_100 + 500)));
    }

    #[test]
    fn the_window_includes_its_boundary() {
        let start = Instant::now();
        let mut intensity = Intensity::new(1, Duration::from_secs(1));
        assert!(intensity.record(at(start, 0)));
        assert!(!intensity.record(at(start, 1_000)), "exactly one period apart still counts");
    }
}
