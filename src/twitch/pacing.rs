//! Pacing on Helix's `Ratelimit-*` headers, shared by every concurrent request.
//!
//! Helix is a token bucket (800 points a minute for an app token, one point a call).
//! Each answer says how many points remain and when the bucket is full again. The
//! pacer spends what remains, counting requests still in flight, and once nothing
//! remains it holds every caller until the reset instead of collecting 429s.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Margin after the announced reset: the header has whole-second precision.
const RESET_MARGIN: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
struct Budget {
    /// Points left as of the newest answer, less requests sent since.
    remaining: Option<u64>,
    /// When the bucket is full again (on tokio's clock, so tests can pause time).
    reset_at: Option<Instant>,
    in_flight: u64,
}

/// Shared rate-limit state of one app token.
#[derive(Debug, Default)]
pub struct Pacer {
    budget: Mutex<Budget>,
}

/// A request's place in the budget; dropping it marks the request finished.
pub struct Permit<'a> {
    pacer: &'a Pacer,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.pacer.budget.lock().expect("pacer lock").in_flight -= 1;
    }
}

impl Pacer {
    /// Waits until the budget allows one more request, then takes a point.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let wait_until = {
                let mut budget = self.budget.lock().expect("pacer lock");
                match (budget.remaining, budget.reset_at) {
                    (Some(0), Some(reset)) if reset > Instant::now() => reset,
                    _ => {
                        budget.remaining = budget.remaining.map(|r| r.saturating_sub(1));
                        budget.in_flight += 1;
                        return Permit { pacer: self };
                    }
                }
            };
            tokio::time::sleep_until(wait_until + RESET_MARGIN).await;
            let mut budget = self.budget.lock().expect("pacer lock");
            if budget.reset_at.is_some_and(|reset| reset <= Instant::now()) {
                // The bucket has refilled; the next answer tells its real level.
                budget.remaining = None;
                budget.reset_at = None;
            }
        }
    }

    /// Records the budget an answer reports (any status, 429 included).
    pub fn observe(&self, headers: &HeaderMap) {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let (Some(remaining), Some(reset_epoch)) = (number("ratelimit-remaining"), number("ratelimit-reset")) else {
            return;
        };
        let now_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let until_reset = Duration::from_secs(reset_epoch).saturating_sub(now_epoch);
        let mut budget = self.budget.lock().expect("pacer lock");
        // Other requests already in flight will spend from what this answer reports.
        let others = budget.in_flight.saturating_sub(1);
        budget.remaining = Some(remaining.saturating_sub(others));
        budget.reset_at = Some(Instant::now() + until_reset);
    }

    /// Records a 429: nothing remains until the reported reset.
    pub fn exhaust(&self, headers: &HeaderMap) {
        self.observe(headers);
        self.budget.lock().expect("pacer lock").remaining = Some(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(remaining: u64, reset_in_secs: u64) -> HeaderMap {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mut h = HeaderMap::new();
        h.insert("ratelimit-remaining", HeaderValue::from(remaining));
        h.insert("ratelimit-reset", HeaderValue::from(now + reset_in_secs));
        h
    }

    #[tokio::test(start_paused = true)]
    async fn spends_the_budget_then_waits_for_the_reset() {
        let pacer = Pacer::default();
        drop(pacer.acquire().await);
        pacer.observe(&headers(2, 30));
        let start = Instant::now();
        drop(pacer.acquire().await);
        drop(pacer.acquire().await);
        assert_eq!(start.elapsed(), Duration::ZERO, "two points were left");
        drop(pacer.acquire().await);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(29), "waited only {waited:?}");
        assert!(waited <= Duration::from_secs(31), "waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn counts_requests_in_flight_against_the_budget() {
        let pacer = Pacer::default();
        let first = pacer.acquire().await;
        let _second = pacer.acquire().await;
        // The first answer says one point is left, but the second request will take it.
        pacer.observe(&headers(1, 10));
        drop(first);
        let start = Instant::now();
        drop(pacer.acquire().await);
        assert!(start.elapsed() >= Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_callers_until_the_reset() {
        let pacer = Pacer::default();
        let permit = pacer.acquire().await;
        pacer.exhaust(&headers(5, 3));
        drop(permit);
        let start = Instant::now();
        drop(pacer.acquire().await);
        assert!(start.elapsed() >= Duration::from_secs(2));
    }

    #[tokio::test]
    async fn answers_without_headers_change_nothing() {
        let pacer = Pacer::default();
        pacer.observe(&HeaderMap::new());
        drop(pacer.acquire().await);
        assert!(pacer.budget.lock().unwrap().remaining.is_none());
    }
}
