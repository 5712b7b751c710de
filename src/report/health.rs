//! The report's pipeline-health section: how many of the window's slots were
//! expected, committed and reached the fact, which were missed, and what was
//! quarantined or rejected on the way, from the same reconciliation as `status`.
//! A person sees a gap before trusting a chart.

use super::Section;
use crate::lake::Slot;
use crate::status::{SlotState, Status};
use crate::warehouse::Table;

/// The health of the report's window.
#[derive(Debug, Clone)]
pub struct Health {
    /// The figures as a two-column table (measure, value).
    pub section: Section,
    /// Every expected slot in time order with its state: the time axis of gaps.
    pub slots: Vec<(Slot, SlotState)>,
}

impl Health {
    pub fn from_status(status: &Status) -> Health {
        let count = |state| status.count(state).to_string();
        let in_fact = status.slots.iter().filter(|s| s.fact_rows > 0).count();
        let (quarantined, rejected, early) = (status.quarantined(), status.rejected(), status.stopped_early());
        let missed: Vec<String> = status
            .slots
            .iter()
            .filter(|s| s.state == SlotState::Missed)
            .map(|s| s.slot.rfc3339())
            .collect();
        let rows = [
            ("slots expected", status.slots.len().to_string()),
            (
                "committed",
                (status.slots.len() - status.count(SlotState::Missed)).to_string(),
            ),
            ("in the fact", in_fact.to_string()),
            ("complete", count(SlotState::Complete)),
            ("pending", count(SlotState::Pending)),
            ("incomplete", count(SlotState::Incomplete)),
            ("missed", count(SlotState::Missed)),
            ("duplicated in RAW", count(SlotState::Duplicated)),
            ("listing not read whole", early.to_string()),
            ("records quarantined", quarantined.to_string()),
            ("lines rejected at load", rejected.to_string()),
            (
                "missed slots",
                if missed.is_empty() {
                    "none".into()
                } else {
                    missed.join(", ")
                },
            ),
        ];
        Health {
            section: Section {
                title: "Pipeline health (see `twitch-pipeline status` for each slot)".into(),
                table: Table {
                    columns: vec!["measure".into(), "value".into()],
                    rows: rows
                        .into_iter()
                        .map(|(measure, value)| vec![Some(measure.to_string()), Some(value)])
                        .collect(),
                },
            },
            slots: status.slots.iter().map(|s| (s.slot, s.state)).collect(),
        }
    }

    /// Whether any slot of the window is missed or not all there.
    pub fn has_gaps(&self) -> bool {
        self.slots.iter().any(|(_, state)| *state != SlotState::Complete)
    }
}
