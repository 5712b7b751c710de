//! How long to wait before retrying (the policy), shared by the HTTP clients; what
//! to retry is decided by each client (Helix, Snowpipe).

use std::time::Duration;

use rand::RngExt;

/// Capped exponential backoff with full jitter.
///
/// Attempt `n` (from 0) waits a random time in `[0, min(cap, base * 2^n)]`. With the
/// defaults (base 250 ms, cap 8 s, 7 retries) the ceilings are 0.25, 0.5, 1, 2, 4, 8
/// and 8 s: at most ~24 s of waiting before a request is given up. Full jitter keeps
/// concurrent requests from retrying in lockstep.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Retries after the first attempt; the request fails after this many.
    pub max_retries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            max_retries: 7,
        }
    }
}

impl Backoff {
    /// The ceiling of the wait before retry number `retry` (0-based).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(30)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A jittered wait before retry number `retry`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        ceiling.mul_f64(rand::rng().random_range(0.0..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_then_cap() {
        let backoff = Backoff::default();
        let ceilings: Vec<u64> = (0..8).map(|n| backoff.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(backoff.ceiling(200), Duration::from_secs(8));
    }

    #[test]
    fn delays_stay_under_their_ceiling() {
        let backoff = Backoff::default();
        for retry in 0..10 {
            for _ in 0..50 {
                assert!(backoff.delay(retry) <= backoff.ceiling(retry));
            }
        }
    }
}
