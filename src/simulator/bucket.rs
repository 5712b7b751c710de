//! Helix's rate limit: a token bucket with the `Ratelimit-*` headers it reports.

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The bucket's level as Helix reports it after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds when the bucket is full again.
    pub reset: u64,
}

/// `points_per_minute` points, refilled continuously; one point a request.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(points_per_minute: u32) -> Self {
        let capacity = f64::from(points_per_minute);
        TokenBucket {
            capacity,
            per_second: capacity / 60.0,
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Fills the bucket, as a quarter of an hour without requests would.
    pub fn fill(&self) {
        *self.state.lock().expect("bucket lock") = (self.capacity, Instant::now());
    }

    /// Takes one point: `Ok` with the level after it, or `Err` with the level if empty.
    pub fn take(&self) -> Result<Level, Level> {
        let mut state = self.state.lock().expect("bucket lock");
        let now = Instant::now();
        let (tokens, last) = *state;
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.per_second).min(self.capacity);
        let allowed = tokens >= 1.0;
        let tokens = if allowed { tokens - 1.0 } else { tokens };
        *state = (tokens, now);
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let level = Level {
            limit: self.capacity as u64,
            remaining: tokens.floor() as u64,
            reset: (epoch + (self.capacity - tokens) / self.per_second).ceil() as u64,
        };
        if allowed { Ok(level) } else { Err(level) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empties_after_capacity_and_reports_a_future_reset() {
        let bucket = TokenBucket::new(5);
        for expected in (0..5).rev() {
            assert_eq!(bucket.take().unwrap().remaining, expected);
        }
        let level = bucket.take().unwrap_err();
        assert_eq!(level.remaining, 0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        // Five points at five a minute refill in a minute.
        assert!(
            level.reset >= now + 59 && level.reset <= now + 61,
            "{} vs {now}",
            level.reset
        );
    }
}
