//! How the listing commands (`list`, `list-users`, `list-roles`, `list-user-policies`,
//! `list-buckets`) print rows: one renderer for all of them.
//!
//! JSON is a list indented by two spaces, as s3-credentials prints it; `--nl` one JSON object per
//! line; `--csv` / `--tsv` Python's `csv` "excel" dialects (the header is the fixed column list, a
//! nested value is JSON indented by two spaces, lines end in CRLF), so scripts written for
//! s3-credentials read s3creds' output unchanged. The table is for people at a terminal.

use crate::core::policy::compact;
use serde_json::{Map, Value};
use std::io::IsTerminal;

/// How rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFormat {
    Table,
    Json,
    Nl,
    Csv,
    Tsv,
}

/// The output flags every listing command accepts; at most one (clap refuses two, exit code 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[group(id = "output", multiple = false)]
pub struct OutputFlags {
    /// Print a table (the default when standard output is a terminal).
    #[arg(long)]
    pub table: bool,
    /// Print JSON (the default when standard output is not a terminal).
    #[arg(long)]
    pub json: bool,
    /// Print newline-delimited JSON: one object per line.
    #[arg(long)]
    pub nl: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
    /// Print TSV.
    #[arg(long)]
    pub tsv: bool,
}

impl OutputFlags {
    /// The format asked for, if any.
    pub fn chosen(&self) -> Option<ListingFormat> {
        [
            (self.table, ListingFormat::Table),
            (self.json, ListingFormat::Json),
            (self.nl, ListingFormat::Nl),
            (self.csv, ListingFormat::Csv),
            (self.tsv, ListingFormat::Tsv),
        ]
        .into_iter()
        .find_map(|(set, format)| set.then_some(format))
    }

    /// The format asked for; otherwise a table for a person at a terminal and JSON for a program.
    pub fn resolve(&self) -> ListingFormat {
        self.chosen().unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                ListingFormat::Table
            } else {
                ListingFormat::Json
            }
        })
    }
}

/// Rows to print: `columns` are the CSV/TSV/table columns, in order; JSON formats print each row
/// whole (keys not in `columns` included, as s3-credentials does).
pub struct Listing {
    pub columns: Vec<String>,
    pub rows: Vec<Map<String, Value>>,
}

impl Listing {
    pub fn new(columns: &[&str], rows: Vec<Map<String, Value>>) -> Listing {
        Listing {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        }
    }

    pub fn render(&self, format: ListingFormat) -> String {
        match format {
            ListingFormat::Json => {
                let rows = Value::Array(self.rows.iter().cloned().map(Value::Object).collect());
                format!("{}\n", indented_json(&rows))
            }
            ListingFormat::Nl => self
                .rows
                .iter()
                .map(|row| format!("{}\n", compact(&Value::Object(row.clone()))))
                .collect(),
            ListingFormat::Csv => self.delimited(','),
            ListingFormat::Tsv => self.delimited('\t'),
            ListingFormat::Table => self.table(),
        }
    }

    fn delimited(&self, delimiter: char) -> String {
        let mut out = String::new();
        let line = |cells: Vec<String>, out: &mut String| {
            let quoted: Vec<String> = cells.iter().map(|c| csv_field(c, delimiter)).collect();
            out.push_str(&quoted.join(&delimiter.to_string()));
            out.push_str("\r\n");
        };
        line(self.columns.clone(), &mut out);
        for row in &self.rows {
            let cells = self
                .columns
                .iter()
                .map(|column| csv_cell(row.get(column)))
                .collect();
            line(cells, &mut out);
        }
        out
    }

    fn table(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .map(|column| table_cell(row.get(column)))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([column.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |items: &[String]| {
            let padded: Vec<String> = items
                .iter()
                .zip(&widths)
                .map(|(item, width)| format!("{item:<width$}"))
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let mut out = line(&self.columns);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for row in &cells {
            out.push_str(&line(row));
        }
        out
    }
}

/// An AWS timestamp as RFC 3339 (s3creds' own listings), or null.
pub fn rfc3339_value(time: Option<&aws_smithy_types::DateTime>) -> Value {
    time.and_then(|t| std::time::SystemTime::try_from(*t).ok())
        .and_then(|t| crate::core::time::rfc3339(t).ok())
        .map_or(Value::Null, Value::String)
}

/// An AWS timestamp as s3-credentials prints it (`2026-01-01 12:00:00.123456+00:00`), or null.
pub fn python_value(time: Option<&aws_smithy_types::DateTime>) -> Value {
    time.and_then(|t| std::time::SystemTime::try_from(*t).ok())
        .and_then(|t| crate::core::time::python_datetime(t).ok())
        .map_or(Value::Null, Value::String)
}

/// JSON indented by two spaces (s3-credentials' listing format).
pub fn indented_json(value: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("a serde_json::Value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A value as a CSV cell: as Python's csv module writes it after s3-credentials' `fix_json`.
fn csv_cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(nested @ (Value::Array(_) | Value::Object(_))) => indented_json(nested),
        Some(other) => other.to_string(),
    }
}

/// Quote a field when it holds the delimiter, a quote or a line break (Python's QUOTE_MINIMAL).
fn csv_field(text: &str, delimiter: char) -> String {
    if text.contains([delimiter, '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A value in one table cell, on one line: lists joined by commas, a list of objects as their
/// values.
fn table_cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(map) => map
                    .values()
                    .map(|v| table_cell(Some(v)))
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
                other => table_cell(Some(other)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => compact(other),
    };
    text.replace(['\r', '\n', '\t'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing() -> Listing {
        let rows = vec![
            json!({"Name": "a,b", "Date": "2026-01-01 00:00:00+00:00", "Nested": {"k": "v"}}),
            json!({"Name": "say \"hi\"", "Extra": 1}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
        Listing::new(&["Name", "Date", "Nested"], rows)
    }

    #[test]
    fn csv_quotes_like_pythons_excel_dialect() {
        assert_eq!(
            listing().render(ListingFormat::Csv),
            "Name,Date,Nested\r\n\"a,b\",2026-01-01 00:00:00+00:00,\"{\n  \"\"k\"\": \"\"v\"\"\n}\"\r\n\"say \"\"hi\"\"\",,\r\n"
        );
        let tsv = listing().render(ListingFormat::Tsv);
        assert!(tsv.starts_with("Name\tDate\tNested\r\na,b\t"), "{tsv}");
    }

    #[test]
    fn json_is_an_indented_list_and_nl_one_object_per_line() {
        let json = listing().render(ListingFormat::Json);
        assert!(json.starts_with("[\n  {\n    \"Name\": \"a,b\""), "{json}");
        let parsed: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[1]["Extra"], 1);
        let nl = listing().render(ListingFormat::Nl);
        assert_eq!(nl.lines().count(), 2);
        assert_eq!(
            Listing::new(&["x"], Vec::new()).render(ListingFormat::Json),
            "[]\n"
        );
    }

    #[test]
    fn table_aligns_columns_on_one_line_per_row() {
        let table = listing().render(ListingFormat::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("Name      Date"), "{table}");
        assert!(lines[1].starts_with("--------  ----"), "{table}");
        assert!(lines[2].ends_with("{\"k\":\"v\"}"), "{table}");
    }
}
