//! Optional restart backoff (beyond OTP): exponential, with jitter and a cap.

use std::time::Duration;

/// Delays the restarts of a child that keeps failing: the `n`-th consecutive
/// restart waits `initial * 2^(n-1)`, at most `max`, scaled by a random
/// factor in `[1 - jitter, 1]`. Restart intensity still applies: every
/// restart counts, delayed or not.
///
/// ```
/// use std::time::Duration;
/// use treeline::supervisor::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).jitter(0.0);
/// assert_eq!(backoff.delay(1, 0), Duration::from_millis(10));
/// assert_eq!(backoff.delay(3, 0), Duration::from_millis(40));
/// assert_eq!(backoff.delay(30, 0), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    /// Starts at `initial`, doubles per consecutive restart, caps at `max`;
    /// jitter 0.2 by default.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max: max.max(initial), jitter: 0.2 }
    }

    /// The share of the delay that is randomised (clamped to `0.0..=1.0`).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        self
    }

    /// The delay before the `attempt`-th consecutive restart (from 1), given a
    /// random `seed`.
    pub fn delay(&self, attempt: u32, seed: u64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let base = self.initial.saturating_mul(1u32 << doublings.min(31)).min(self.max);
        let unit = (seed >> 11) as f64 / (1u64 << 53) as f64; // in [0, 1)
        base.mul_f64(1.0 - self.jitter * unit)
    }

    /// How long a child must have run for its failures to count as a new
    /// series (the backoff resets).
    pub(crate) fn settle_time(&self) -> Duration {
        self.max
    }
}

/// A small, deterministic random source (xorshift64*) for jitter.
#[derive(Debug)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Jitter(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_only_shortens_and_stays_within_its_share() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10)).jitter(0.5);
        let mut jitter = Jitter::new(7);
        for _ in 0..1_000 {
            let delay = backoff.delay(1, jitter.next());
            assert!(delay <= Duration::from_millis(100) && delay >= Duration::from_millis(50), "{delay:?}");
        }
    }

    #[test]
    fn huge_attempts_do_not_overflow() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).jitter(0.0);
        assert_eq!(backoff.delay(u32::MAX, u64::MAX), Duration::from_secs(60));
        assert_eq!(Backoff::new(Duration::from_secs(5), Duration::from_secs(1)).delay(1, 0), Duration::from_secs(5));
    }
}
