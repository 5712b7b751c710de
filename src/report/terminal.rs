//! The report as terminal tables.

use comfy_table::{CellAlignment, Table as TerminalTable, presets::UTF8_FULL_CONDENSED};

use super::Section;
use super::numbers::{for_people, is_quantity};

/// The whole report for the terminal: the pipeline's health first, when it was
/// checked, then the sections.
pub fn render_report(report: &super::Report) -> String {
    let health = report.health.as_ref().map(|h| render(std::slice::from_ref(&h.section)));
    health.unwrap_or_default() + &render(&report.sections)
}

/// The sections as terminal tables, numbers right-aligned and formatted for people.
pub fn render(sections: &[Section]) -> String {
    let mut out = String::new();
    for section in sections {
        let mut table = TerminalTable::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        let columns = &section.table.columns;
        table.set_header(columns.iter().map(|c| c.replace('_', " ")));
        let numeric: Vec<bool> = (0..columns.len())
            .map(|index| {
                !section.table.rows.is_empty()
                    && section.table.rows.iter().all(|r| {
                        r.get(index)
                            .and_then(|c| c.as_deref())
                            .is_none_or(|c| c.parse::<f64>().is_ok())
                    })
            })
            .collect();
        for row in &section.table.rows {
            table.add_row(row.iter().enumerate().map(|(index, cell)| {
                let text = cell.clone().unwrap_or_default();
                if numeric[index] && is_quantity(&columns[index]) {
                    for_people(&text)
                } else {
                    text
                }
            }));
        }
        for (index, column) in table.column_iter_mut().enumerate() {
            if numeric[index] {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        if section.table.rows.is_empty() {
            // The rankings count complete UTC days: none until the first one ends.
            out.push_str(&format!("\n{}\n  nothing yet\n", section.title));
            continue;
        }
        out.push_str(&format!("\n{}\n{table}\n", section.title));
    }
    out
}
