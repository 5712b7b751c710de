//! The reconciliation as text: one line per slot, then a summary.

use super::{SlotState, SlotStatus, Status};

/// One line per slot: its state, each file's rows committed and in RAW, the fact's
/// rows, and why it is not complete; notes from the extraction on lines below it.
pub fn lines(status: &Status) -> Vec<String> {
    let mut lines = Vec::new();
    for slot in &status.slots {
        lines.push(slot_line(slot));
        lines.extend(slot.notes.iter().map(|note| format!("    note: {note}")));
    }
    lines
}

/// A slot's line: its time, its state, its rows, why it is not complete.
pub fn slot_line(slot: &SlotStatus) -> String {
    let mut line = format!("{}  {:<10}  ", slot.slot.rfc3339(), slot.state.label());
    if slot.files.is_empty() {
        line.push_str(slot.reason.as_deref().unwrap_or_default());
    } else {
        line.push_str(&rows(slot));
        if let Some(reason) = &slot.reason {
            line.push_str(&format!("; {reason}"));
        }
    }
    line
}

/// `streams 5000/5000, users 12/12, games 3/3 in RAW (1 rejected); 5000 in the fact`
fn rows(slot: &SlotStatus) -> String {
    let files: Vec<String> = slot
        .files
        .iter()
        .map(|f| format!("{} {}/{}", f.entity.name(), f.raw_rows, f.committed_rows))
        .collect();
    let mut text = format!("{} in RAW", files.join(", "));
    if slot.rejected() > 0 {
        text.push_str(&format!(" ({} line(s) rejected at load)", slot.rejected()));
    }
    text.push_str(&format!("; {} in the fact", slot.fact_rows));
    text
}

/// `since …: 96 slots expected: 95 committed (94 complete, 1 pending, 0 incomplete), 1 missed, …`
pub fn summary_line(status: &Status) -> String {
    let count = |state| status.count(state);
    let committed = status.slots.len() - count(SlotState::Missed);
    let (quarantined, rejected, early) = (status.quarantined(), status.rejected(), status.stopped_early());
    let mut line = format!(
        "since {}: {} slot(s) expected, {committed} committed ({} complete, {} pending, {} incomplete, {} unreadable), {} missed; {quarantined} record(s) quarantined, {rejected} line(s) rejected at load",
        status.slots.first().map_or_else(|| "-".into(), |s| s.slot.rfc3339()),
        status.slots.len(),
        count(SlotState::Complete),
        count(SlotState::Pending),
        count(SlotState::Incomplete),
        count(SlotState::Unreadable),
        count(SlotState::Missed),
    );
    if count(SlotState::Duplicated) > 0 {
        line.push_str(&format!("; {} slot(s) DUPLICATED in RAW", count(SlotState::Duplicated)));
    }
    if early > 0 {
        line.push_str(&format!(
            "; {early} slot(s) whose extraction did not read the whole listing"
        ));
    }
    if !status.fact_available {
        line.push_str("; the warehouse has no fact yet");
    }
    line
}
