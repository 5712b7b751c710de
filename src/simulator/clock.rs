//! The simulator's clock: the wall clock, or one the demo and tests move by hand.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::lake::Slot;

/// Which time the simulator serves. The world changes only at slot boundaries.
#[derive(Clone, Debug, Default)]
pub enum SimClock {
    /// Serve the slot of the current time.
    #[default]
    Wall,
    /// Serve the slot of a time set by the owner (no waiting for real slots).
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl SimClock {
    /// A clock that stays at `time` until [`set`](Self::set) moves it.
    pub fn manual(time: DateTime<Utc>) -> Self {
        SimClock::Manual(Arc::new(Mutex::new(time)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            SimClock::Wall => Utc::now(),
            SimClock::Manual(time) => *time.lock().expect("clock lock"),
        }
    }

    /// The slot being served.
    pub fn slot(&self) -> Slot {
        Slot::containing(self.now())
    }

    /// Moves a manual clock; a wall clock cannot be moved.
    pub fn set(&self, time: DateTime<Utc>) {
        match self {
            SimClock::Wall => panic!("the wall clock cannot be set; build the simulator with SimClock::manual"),
            SimClock::Manual(current) => *current.lock().expect("clock lock") = time,
        }
    }
}
