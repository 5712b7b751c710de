//! Pacing on Helix's `Ratelimit-*` headers, shared by every concurrent request.
//!
//! Helix is a token bucket (800 points a minute for an app token, one point a call,
//! refilled continuously; <https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits>).
//! Each answer says the bucket size (`Ratelimit-Limit`), the points left
//! (`Ratelimit-Remaining`) and when it is full again (`Ratelimit-Reset`, Unix
//! seconds). The pacer spends what is left, counting requests still in flight; once
//! nothing is left it lets requests go one refill interval apart, so a long run
//! proceeds at the refill rate instead of collecting 429s. After a 429 it holds every
//! caller until the announced reset, as Twitch asks.
//!
//! When requests must wait, the one with the highest priority goes first (ties in
//! arrival order). Extraction gives a listing chain the pages it still has to read:
//! the longest chain, which sets the snapshot's time, is never queued behind work
//! that could go later.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The longest a reset is believed: Twitch refills an app's bucket at its full size
/// per minute (<https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits>), so a
/// reset further out is a bad header, and the pacer never holds callers past this.
pub const MAX_BELIEVED_RESET: Duration = Duration::from_secs(60);

/// How far an answer may report more points than expected and still be taken as
/// stale rather than refilled: more than the requests that can be in flight.
const STALE_MARGIN: u64 = 16;

/// The refill interval assumed before an answer has reported one (800 a minute).
const DEFAULT_REFILL: Duration = Duration::from_millis(75);

#[derive(Debug, Default)]
struct Budget {
    /// Points left as of the newest answer, less requests sent since.
    remaining: Option<u64>,
    /// Time for one point to refill, estimated from the newest answer.
    refill: Option<Duration>,
    /// The earliest the next request may go once the budget is spent, or after a
    /// 429 (tokio's clock, so tests can pause time).
    next_send: Option<Instant>,
    in_flight: u64,
}

impl Budget {
    /// Takes a point if one may be spent now; otherwise says when to ask again.
    fn take(&mut self, now: Instant) -> Result<(), Instant> {
        if let Some(at) = self.next_send.filter(|at| *at > now) {
            return Err(at);
        }
        match self.remaining {
            None => {}
            Some(0) => {
                let refill = self.refill.unwrap_or(DEFAULT_REFILL);
                if self.next_send.is_none() {
                    // Just spent: the next point refills one interval from now.
                    self.next_send = Some(now + refill);
                    return Err(now + refill);
                }
                // Spent: one request per refill interval.
                self.next_send = Some(now + refill);
            }
            Some(left) => {
                self.remaining = Some(left - 1);
                if left == 1 {
                    self.next_send = None;
                }
            }
        }
        self.in_flight += 1;
        Ok(())
    }
}

/// Who waits for a point: higher priority first, then earlier arrival.
type Queue = BTreeMap<(std::cmp::Reverse<u32>, u64), ()>;

#[derive(Debug, Default)]
struct State {
    budget: Budget,
    waiting: Queue,
    arrivals: u64,
}

/// Shared rate-limit state of one app token.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
    /// Wakes waiters when the head of the queue changes or a point may be free.
    changed: Notify,
    /// The longest a 429 holds every caller.
    max_hold: Duration,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::with_max_hold(MAX_BELIEVED_RESET)
    }
}

/// A request's place in the budget; dropping it marks the request finished.
pub struct Permit<'a> {
    pacer: &'a Pacer,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.pacer.lock().budget.in_flight -= 1;
    }
}

/// A waiter's place in the queue, given up if the waiting request is dropped.
struct Place<'a> {
    pacer: &'a Pacer,
    key: (std::cmp::Reverse<u32>, u64),
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let removed = self.pacer.lock().waiting.remove(&self.key).is_some();
        if removed {
            self.pacer.changed.notify_waiters();
        }
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
    /// A pacer whose 429s hold callers for `max_hold` at most (and never past
    /// [`MAX_BELIEVED_RESET`]).
    pub fn with_max_hold(max_hold: Duration) -> Pacer {
        Pacer {
            state: Mutex::default(),
            changed: Notify::new(),
            max_hold: max_hold.min(MAX_BELIEVED_RESET),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("pacer lock")
    }

    /// Waits until the budget allows one more request and no waiter of a higher
    /// priority (or the same, arrived earlier) is ahead, then takes a point.
    pub async fn acquire(&self, priority: u32) -> Permit<'_> {
        let place = {
            let mut state = self.lock();
            if state.waiting.is_empty() && state.budget.take(Instant::now()).is_ok() {
                return Permit { pacer: self };
            }
            state.arrivals += 1;
            let key = (std::cmp::Reverse(priority), state.arrivals);
            state.waiting.insert(key, ());
            Place { pacer: self, key }
        };
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // `Ok`: granted; `Err(Some(at))`: first in line, a point at `at`;
            // `Err(None)`: others are ahead.
            let turn = {
                let mut state = self.lock();
                if state.waiting.keys().next() == Some(&place.key) {
                    let granted = state.budget.take(Instant::now()).map_err(Some);
                    if granted.is_ok() {
                        state.waiting.remove(&place.key);
                    }
                    granted
                } else {
                    Err(None)
                }
            };
            match turn {
                Ok(()) => {
                    drop(place);
                    // The next waiter is first now.
                    self.changed.notify_waiters();
                    return Permit { pacer: self };
                }
                Err(Some(at)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut changed => {}
                    }
                }
                Err(None) => changed.await,
            }
        }
    }

    /// Records the budget an answer reports.
    pub fn observe(&self, headers: &HeaderMap) {
        let Some(report) = reported(headers) else {
            return;
        };
        let mut state = self.lock();
        let budget = &mut state.budget;
        // Other requests already in flight will spend from what this answer reports.
        let others = budget.in_flight.saturating_sub(1);
        let reported = report.remaining.saturating_sub(others);
        // Answers to concurrent requests can arrive out of order, and a stale one
        // reports points that are already spent. Near an empty bucket that would mean
        // a 429, so an answer may lower the budget but raise it only by a clear refill.
        let before = budget.remaining;
        budget.remaining = Some(match before {
            Some(local) if reported > local && reported - local <= STALE_MARGIN => local,
            _ => reported,
        });
        let raised = budget.remaining > before;
        // Absurd headers (a limit of 0 or 2^40, a reset years away) must not stall or
        // panic: a refill interval stays within what one minute allows.
        if let Some(missing) = report.limit.map(|limit| limit.saturating_sub(report.remaining))
            && missing > 0
            && !report.until_reset.is_zero()
        {
            let missing = u32::try_from(missing).unwrap_or(u32::MAX);
            budget.refill = Some(report.until_reset.min(MAX_BELIEVED_RESET) / missing);
        }
        drop(state);
        if raised {
            self.changed.notify_waiters();
        }
    }

    /// Records a 429: every caller waits until the announced reset, for at most the
    /// pacer's longest hold. Returns the wait the answer announced (1 s when it
    /// announced none), so the caller can refuse to wait that long.
    pub fn exhaust(&self, headers: &HeaderMap) -> Duration {
        self.observe(headers);
        let until_reset = reported(headers).map_or(Duration::from_secs(1), |r| r.until_reset);
        let mut state = self.lock();
        let budget = &mut state.budget;
        budget.remaining = Some(0);
        let hold = until_reset.clamp(
            Duration::from_millis(100),
            self.max_hold.max(Duration::from_millis(100)),
        );
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
        drop(pacer.acquire(0).await);
        // 2 of 800 left, full in 60 s: one point per ~75 ms.
        pacer.observe(&headers(800, 2, 60));
        let start = Instant::now();
        drop(pacer.acquire(0).await);
        drop(pacer.acquire(0).await);
        assert_eq!(start.elapsed(), Duration::ZERO, "two points were left");
        for _ in 0..10 {
            drop(pacer.acquire(0).await);
        }
        let waited = start.elapsed();
        // Ten more requests at ~60 s / 798 each: about 0.75 s, never a full reset.
        assert!(waited >= Duration::from_millis(600), "waited only {waited:?}");
        assert!(waited <= Duration::from_millis(900), "waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn counts_requests_in_flight_against_the_budget() {
        let pacer = Pacer::default();
        let first = pacer.acquire(0).await;
        let _second = pacer.acquire(0).await;
        // The first answer says one point is left, but the second request takes it.
        pacer.observe(&headers(10, 1, 60));
        drop(first);
        let start = Instant::now();
        drop(pacer.acquire(0).await);
        drop(pacer.acquire(0).await);
        // 9 points refill in 60 s: ~6.7 s apart once the budget is spent.
        assert!(start.elapsed() >= Duration::from_secs(6), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_callers_until_the_reset() {
        let pacer = Pacer::default();
        let permit = pacer.acquire(0).await;
        pacer.exhaust(&headers(800, 0, 3));
        drop(permit);
        let start = Instant::now();
        drop(pacer.acquire(0).await);
        assert!(start.elapsed() >= Duration::from_secs(2), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_headers_neither_panic_nor_stall() {
        let pacer = Pacer::default();
        let mut absurd = HeaderMap::new();
        absurd.insert("ratelimit-limit", HeaderValue::from(1u64 << 40));
        absurd.insert("ratelimit-remaining", HeaderValue::from(0u64));
        absurd.insert("ratelimit-reset", HeaderValue::from(u64::MAX));
        drop(pacer.acquire(0).await);
        pacer.observe(&absurd);
        assert!(pacer.exhaust(&absurd) > Duration::from_secs(1_000_000));
        let start = Instant::now();
        drop(pacer.acquire(0).await);
        drop(pacer.acquire(0).await);
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
        drop(pacer.acquire(0).await);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_without_headers_change_nothing() {
        let pacer = Pacer::default();
        pacer.observe(&HeaderMap::new());
        let start = Instant::now();
        for _ in 0..100 {
            drop(pacer.acquire(0).await);
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(pacer.lock().budget.remaining.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn once_the_budget_is_spent_the_highest_priority_goes_first() {
        let pacer = std::sync::Arc::new(Pacer::default());
        drop(pacer.acquire(0).await);
        // Spent, refilling one point per 75 ms.
        pacer.observe(&headers(800, 0, 60));
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        // Look-ups (priority 0) queue first, then a short chain, then the longest.
        for (name, priority) in [
            ("lookup-1", 0),
            ("lookup-2", 0),
            ("short chain", 3),
            ("long chain", 400),
        ] {
            let (pacer, order) = (pacer.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                drop(pacer.acquire(priority).await);
                order.lock().unwrap().push(name);
            }));
            tokio::task::yield_now().await;
        }
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["long chain", "short chain", "lookup-1", "lookup-2"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_gives_up_leaves_the_queue() {
        let pacer = Pacer::default();
        drop(pacer.acquire(0).await);
        pacer.observe(&headers(800, 0, 60));
        let gave_up = tokio::time::timeout(Duration::from_millis(1), pacer.acquire(9)).await;
        assert!(gave_up.is_err());
        assert!(pacer.lock().waiting.is_empty());
        let start = Instant::now();
        drop(pacer.acquire(0).await);
        assert!(start.elapsed() <= Duration::from_millis(200), "{:?}", start.elapsed());
    }
}
