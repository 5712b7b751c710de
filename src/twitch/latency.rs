//! Round-trip times of Helix requests, kept as a histogram of atomic counters: shared
//! by every request of a client without a lock, and subtracted to get one run's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Each bucket is 5% wider than the one before, from 1 ms: percentiles within 5%.
const GROWTH: f64 = 1.05;
/// 1 ms · 1.05^260 ≈ 330 s, past any request's timeout.
const BUCKETS: usize = 260;

/// How many round trips fell in each bucket.
#[derive(Debug)]
pub struct Histogram {
    counts: Vec<AtomicU64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn bucket(elapsed: Duration) -> usize {
    let ms = elapsed.as_secs_f64() * 1e3;
    if ms <= 1.0 {
        return 0;
    }
    ((ms.ln() / GROWTH.ln()).ceil() as usize).min(BUCKETS - 1)
}

/// The upper bound of bucket `index`, in milliseconds.
fn upper_ms(index: usize) -> f64 {
    GROWTH.powi(index as i32)
}

impl Histogram {
    pub fn record(&self, elapsed: Duration) {
        self.counts[bucket(elapsed)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> Counts {
        Counts(self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect())
    }
}

/// A histogram's counts at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts(Vec<u64>);

impl Counts {
    /// The round trips recorded after `earlier` was taken.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts(self.0.iter().zip(&earlier.0).map(|(now, then)| now - then).collect())
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The `q` quantile (0 to 1) in milliseconds, to within 5%; 0 with no record.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (index, count) in self.0.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return (upper_ms(index) * 10.0).round() / 10.0;
            }
        }
        upper_ms(BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_five_percent() {
        let histogram = Histogram::default();
        let before = histogram.snapshot();
        for ms in 1..=1_000u64 {
            histogram.record(Duration::from_millis(ms));
        }
        let run = histogram.snapshot().since(&before);
        assert_eq!(run.total(), 1_000);
        for (q, exact) in [(0.5, 500.0), (0.95, 950.0), (1.0, 1_000.0)] {
            let got = run.quantile_ms(q);
            assert!(got >= exact && got <= exact * GROWTH, "q{q}: {got} for {exact}");
        }
        assert_eq!(Counts(vec![0; BUCKETS]).quantile_ms(0.5), 0.0);
        histogram.record(Duration::from_secs(100_000));
        assert_eq!(histogram.snapshot().since(&before).total(), 1_001);
    }
}
