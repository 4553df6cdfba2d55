//! Where results go: aligned tables or JSON on stdout, notes on stderr.

use std::io::Write;

use serde::Serialize;

use crate::error::{CliError, Result};

/// The output mode of this run.
pub(crate) struct Out {
    /// `--json`: JSON on stdout instead of tables and text.
    pub(crate) json: bool,
}

impl Out {
    /// The output for this mode.
    pub(crate) fn new(json: bool) -> Self {
        Out { json }
    }

    /// Writes a value as pretty JSON.
    pub(crate) fn json(&self, value: &impl Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(|e| CliError::new(e.to_string()))?;
        self.line(text)
    }

    /// Writes one line.
    pub(crate) fn line(&self, text: impl AsRef<str>) -> Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_ref().as_bytes())?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }

    /// Writes bytes as they are.
    pub(crate) fn bytes(&self, bytes: &[u8]) -> Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
        Ok(())
    }

    /// Writes a table.
    pub(crate) fn table(&self, table: &Table) -> Result<()> {
        self.bytes(table.render().as_bytes())
    }

    /// A note for the human on stderr (progress, confirmations); never part of the result.
    pub(crate) fn note(&self, text: impl AsRef<str>) {
        let _ = writeln!(std::io::stderr().lock(), "{}", text.as_ref());
    }

    /// Key/value lines, aligned: `  Key: value`, with section titles for empty keys.
    pub(crate) fn fields(&self, fields: &[(&str, String)]) -> Result<()> {
        let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut text = String::new();
        for (key, value) in fields {
            if key.is_empty() {
                text.push_str(&format!("\n{value}\n"));
            } else {
                text.push_str(&format!("  {key:>width$}: {value}\n"));
            }
        }
        self.bytes(text.trim_start_matches('\n').as_bytes())
    }
}

/// An aligned text table; numeric columns are right-aligned.
pub(crate) struct Table {
    /// Column titles.
    headers: Vec<String>,
    /// The cells, row by row.
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub(crate) fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty).
    pub(crate) fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as text, one line per row, no trailing spaces.
    pub(crate) fn render(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        let mut numeric = vec![true; n];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
                if !cell.is_empty() && !looks_numeric(cell) {
                    numeric[i] = false;
                }
            }
        }
        if self.rows.is_empty() {
            numeric = vec![false; n];
        }
        let mut text = String::new();
        let mut line = |cells: &[String]| {
            let mut l = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    l.push_str("  ");
                }
                if numeric[i] {
                    l.push_str(&" ".repeat(pad));
                    l.push_str(cell);
                } else {
                    l.push_str(cell);
                    l.push_str(&" ".repeat(pad));
                }
            }
            text.push_str(l.trim_end());
            text.push('\n');
        };
        line(&self.headers);
        for row in &self.rows {
            line(row);
        }
        text
    }
}

/// Whether a cell is a number with an optional unit (`1,024`, `1.5 KiB`, `12ms`, `1m30s`),
/// not an identifier, date or version that happens to start with a digit.
fn looks_numeric(cell: &str) -> bool {
    const UNITS: [&str; 13] = [
        "", "B", "KiB", "MiB", "GiB", "TiB", "PiB", "µs", "ms", "s", "m", "h", "d",
    ];
    if !cell.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let split = cell
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(cell.len());
    if cell[..split].matches('.').count() > 1 {
        return false;
    }
    let unit = cell[split..].trim();
    UNITS.contains(&unit)
        || (unit
            .chars()
            .all(|c| c.is_ascii_digit() || "dhms".contains(c))
            && unit.ends_with(['d', 'h', 'm', 's']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_units_only() {
        for yes in ["1", "1,024", "1.5 KiB", "12ms", "1m30s", "3d4h", "250µs"] {
            assert!(looks_numeric(yes), "{yes}");
        }
        for no in [
            "5ujbI4ftsd",
            "1.2.3",
            "2024-01-02T03:04:05Z",
            "x1",
            "10.0.0.1:4222",
        ] {
            assert!(!looks_numeric(no), "{no}");
        }
    }

    #[test]
    fn aligns_text_left_and_numbers_right() {
        let mut t = Table::new(&["NAME", "COUNT"]);
        t.row(vec!["a".into(), "1".into()]);
        t.row(vec!["long-name".into(), "1,000".into()]);
        assert_eq!(
            t.render(),
            "NAME       COUNT\na              1\nlong-name  1,000\n"
        );
    }
}
