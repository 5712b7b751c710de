//! Pacing on Helix's `Ratelimit-*` headers, shared by every concurrent request.
//!
//! Helix is a token bucket (800 points a minute for an app token, one point a call,
//! refilled continuously). Each answer says the bucket size (`Ratelimit-Limit`), the
//! points left (`Ratelimit-Remaining`) and when it is full again (`Ratelimit-Reset`,
//! Unix seconds). The pacer spends what is left, counting requests still in flight;
//! once nothing is left it spaces requests one refill interval apart, so a long run
//! proceeds at the refill rate instead of collecting 429s. After a 429 it holds every
//! caller until the announced reset, as Twitch asks.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The longest a reset is believed: Twitch refills an app's bucket at its full size
/// per minute (<https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits>), so a
/// reset further out is a bad header, and the pacer never holds callers past this.
pub const MAX_BELIEVED_RESET: Duration = Duration::from_secs(60);

/// How far an answer may report more points than expected and still be taken as
/// stale rather than refilled: more than the requests that can be in flight.
const STALE_MARGIN: u64 = 16;

#[derive(Debug, Default)]
struct Budget {
    /// Points left as of the newest answer, less requests sent since.
    remaining: Option<u64>,
    /// Time for one point to refill, estimated from the newest answer.
    refill: Option<Duration>,
    /// When the next request may go once the budget is spent (tokio's clock, so
    /// tests can pause time).
    next_send: Option<Instant>,
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

struct Reported {
    limit: Option<u64>,
    remaining: u64,
    until_reset: Duration,
}

fn reported(headers: &HeaderMap) -> Option<Reported> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    let remaining = number("ratelimit-remaining")?;
    let reset_epoch = number("ratelimit-reset")?;
    let now_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Some(Reported {
        limit: number("ratelimit-limit"),
        remaining,
        until_reset: Duration::from_secs(reset_epoch).saturating_sub(now_epoch),
    })
}

impl Pacer {
    /// Waits until the budget allows one more request, then takes a point.
    pub async fn acquire(&self) -> Permit<'_> {
        let send_at = {
            let mut budget = self.budget.lock().expect("pacer lock");
            budget.in_flight += 1;
            let now = Instant::now();
            let held = budget.next_send.filter(|at| *at > now);
            match (budget.remaining, held) {
                (Some(left), None) if left > 0 => {
                    budget.remaining = Some(left - 1);
                    None
                }
                (None, None) => None,
                // Spent (or held after a 429): queue one refill interval behind the
                // previous caller.
                _ => {
                    let refill = budget.refill.unwrap_or(Duration::from_millis(75));
                    // Nothing is left now, so even the first caller waits for a refill.
                    let at = held.unwrap_or(now + refill);
                    budget.next_send = Some(at + refill);
                    Some(at)
                }
            }
        };
        if let Some(at) = send_at {
            tokio::time::sleep_until(at).await;
        }
        Permit { pacer: self }
    }

    /// Records the budget an answer reports.
    pub fn observe(&self, headers: &HeaderMap) {
        let Some(report) = reported(headers) else {
            return;
        };
        let mut budget = self.budget.lock().expect("pacer lock");
        // Other requests already in flight will spend from what this answer reports.
        let others = budget.in_flight.saturating_sub(1);
        let reported = report.remaining.saturating_sub(others);
        // Answers to concurrent requests can arrive out of order, and a stale one
        // reports points that are already spent. Near an empty bucket that would mean
        // a 429, so an answer may lower the budget but raise it only by a clear refill.
        budget.remaining = Some(match budget.remaining {
            Some(local) if reported > local && reported - local <= STALE_MARGIN => local,
            _ => reported,
        });
        // Absurd headers (a limit of 0 or 2^40, a reset years away) must not stall or
        // panic: a refill interval stays within what one minute allows.
        if let Some(missing) = report.limit.map(|limit| limit.saturating_sub(report.remaining))
            && missing > 0
            && !report.until_reset.is_zero()
        {
            let missing = u32::try_from(missing).unwrap_or(u32::MAX);
            budget.refill = Some(report.until_reset.min(MAX_BELIEVED_RESET) / missing);
        }
    }

    /// Records a 429: every caller waits until the announced reset, for at most
    /// [`MAX_BELIEVED_RESET`]. Returns the wait the answer announced (1 s when it
    /// announced none), so the caller can refuse to wait that long.
    pub fn exhaust(&self, headers: &HeaderMap) -> Duration {
        self.observe(headers);
        let until_reset = reported(headers).map_or(Duration::from_secs(1), |r| r.until_reset);
        let mut budget = self.budget.lock().expect("pacer lock");
        budget.remaining = Some(0);
        let hold = until_reset.clamp(Duration::from_millis(100), MAX_BELIEVED_RESET);
        let reset = Instant::now() + hold;
        budget.next_send = Some(budget.next_send.map_or(reset, |at| at.max(reset)));
        until_reset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(limit: u64, remaining: u64, reset_in_secs: u64) -> HeaderMap {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mut h = HeaderMap::new();
        h.insert("ratelimit-limit", HeaderValue::from(limit));
        h.insert("ratelimit-remaining", HeaderValue::from(remaining));
        h.insert("ratelimit-reset", HeaderValue::from(now + reset_in_secs));
        h
    }

    #[tokio::test(start_paused = true)]
    async fn spends_the_budget_then_paces_at_the_refill_rate() {
        let pacer = Pacer::default();
        drop(pacer.acquire().await);
        // 2 of 800 left, full in 60 s: one point per ~75 ms.
        pacer.observe(&headers(800, 2, 60));
        let start = Instant::now();
        drop(pacer.acquire().await);
        drop(pacer.acquire().await);
        assert_eq!(start.elapsed(), Duration::ZERO, "two points were left");
        for _ in 0..10 {
            drop(pacer.acquire().await);
        }
        let waited = start.elapsed();
        // Ten more requests at ~60 s / 798 each: about 0.75 s, never a full reset.
        assert!(waited >= Duration::from_millis(600), "waited only {waited:?}");
        assert!(waited <= Duration::from_millis(900), "waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn counts_requests_in_flight_against_the_budget() {
        let pacer = Pacer::default();
        let first = pacer.acquire().await;
        let _second = pacer.acquire().await;
        // The first answer says one point is left, but the second request takes it.
        pacer.observe(&headers(10, 1, 60));
        drop(first);
        let start = Instant::now();
        drop(pacer.acquire().await);
        drop(pacer.acquire().await);
        // 9 points refill in 60 s: ~6.7 s apart once the budget is spent.
        assert!(start.elapsed() >= Duration::from_secs(6), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_callers_until_the_reset() {
        let pacer = Pacer::default();
        let permit = pacer.acquire().await;
        pacer.exhaust(&headers(800, 0, 3));
        drop(permit);
        let start = Instant::now();
        drop(pacer.acquire().await);
        assert!(start.elapsed() >= Duration::from_secs(2), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_headers_neither_panic_nor_stall() {
        let pacer = Pacer::default();
        let mut absurd = HeaderMap::new();
        absurd.insert("ratelimit-limit", HeaderValue::from(1u64 << 40));
        absurd.insert("ratelimit-remaining", HeaderValue::from(0u64));
        absurd.insert("ratelimit-reset", HeaderValue::from(u64::MAX));
        drop(pacer.acquire().await);
        pacer.observe(&absurd);
        assert!(pacer.exhaust(&absurd) > Duration::from_secs(1_000_000));
        let start = Instant::now();
        drop(pacer.acquire().await);
        drop(pacer.acquire().await);
        assert!(
            start.elapsed() <= MAX_BELIEVED_RESET + Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        for (limit, remaining) in [("0", "0"), ("800", "-5"), ("", ""), ("x", "1e9")] {
            let mut odd = HeaderMap::new();
            odd.insert("ratelimit-limit", HeaderValue::from_str(limit).unwrap());
            odd.insert("ratelimit-remaining", HeaderValue::from_str(remaining).unwrap());
            odd.insert("ratelimit-reset", HeaderValue::from(0u64));
            pacer.observe(&odd);
        }
        drop(pacer.acquire().await);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_without_headers_change_nothing() {
        let pacer = Pacer::default();
        pacer.observe(&HeaderMap::new());
        let start = Instant::now();
        for _ in 0..100 {
            drop(pacer.acquire().await);
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(pacer.budget.lock().unwrap().remaining.is_none());
    }
}
