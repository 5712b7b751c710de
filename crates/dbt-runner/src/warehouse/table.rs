//! Query results as text: what the runner's checks and its callers read.

use std::fmt;

/// One value of a result row; `None` is SQL NULL.
pub type Cell = Option<String>;

/// The rows of one query, every value as text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The first value of the first row, when the query returns exactly one value.
    pub fn scalar(&self) -> Option<&str> {
        self.rows.first()?.first()?.as_deref()
    }

    /// The position of the column named `name`, in any case (Snowflake answers SHOW
    /// commands in lower case, and names unquoted columns in upper case).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))
    }

    /// The first value as an integer (counts).
    pub fn scalar_i64(&self) -> Option<i64> {
        self.scalar()?.parse().ok()
    }
}

impl fmt::Display for Table {
    /// Tab-separated, header first: for logs and failure messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.columns.join("\t"))?;
        for row in &self.rows {
            let cells: Vec<&str> = row.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect();
            writeln!(f, "{}", cells.join("\t"))?;
        }
        Ok(())
    }
}
