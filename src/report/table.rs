//! Table code every text format shares: a header, column alignment and rows of already formatted cells,
//! rendered as a GitHub-flavoured markdown table; and the number formats the report uses everywhere.

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A table of formatted cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(headers: Vec<(String, Align)>) -> Table {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells are left empty, extra ones dropped).
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as markdown, columns padded so the source reads as a table too.
    pub fn to_markdown(&self) -> String {
        let widths: Vec<usize> = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, (h, _))| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([h.chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let pad = |text: &str, i: usize| {
            let w = widths[i];
            match self.headers[i].1 {
                Align::Left => format!("{text:<w$}"),
                Align::Right => format!("{text:>w$}"),
            }
        };
        let mut out = line(
            self.headers
                .iter()
                .enumerate()
                .map(|(i, (h, _))| pad(h, i))
                .collect(),
        );
        out.push_str(&line(
            self.headers
                .iter()
                .enumerate()
                .map(|(i, (_, a))| match a {
                    Align::Left => format!(":{}", "-".repeat(widths[i] - 1)),
                    Align::Right => format!("{}:", "-".repeat(widths[i] - 1)),
                })
                .collect(),
        ));
        for row in &self.rows {
            out.push_str(&line(
                row.iter()
                    .enumerate()
                    .map(|(i, c)| pad(&c.replace('|', "\\|"), i))
                    .collect(),
            ));
        }
        out
    }
}

/// A left-aligned column.
pub fn left(name: impl Into<String>) -> (String, Align) {
    (name.into(), Align::Left)
}

/// A right-aligned column.
pub fn right(name: impl Into<String>) -> (String, Align) {
    (name.into(), Align::Right)
}

/// `value` with `decimals` decimals, or `—` when absent or not finite.
pub fn num(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "—".to_string(),
    }
}

/// A fraction as a percentage with one decimal (`0.5` -> `50.0%`), or `—`.
pub fn percent(fraction: Option<f64>) -> String {
    match fraction {
        Some(f) if f.is_finite() => format!("{:.1}%", f * 100.0),
        _ => "—".to_string(),
    }
}

/// A byte count in binary units (`1536` -> `1.5 KiB`), or `—`.
pub fn bytes(value: Option<f64>) -> String {
    let Some(v) = value.filter(|v| v.is_finite()) else {
        return "—".to_string();
    };
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = v;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_pads_and_aligns() {
        let mut t = Table::new(vec![left("Scenario"), right("TPS")]);
        t.push(vec!["write_only".into(), "123".into()]);
        t.push(vec!["a|b".into()]);
        assert_eq!(
            t.to_markdown(),
            "| Scenario   | TPS |\n| :--------- | --: |\n| write_only | 123 |\n| a\\|b       |     |\n"
        );
    }

    #[test]
    fn numbers_have_a_dash_when_missing() {
        assert_eq!(num(Some(1.234), 2), "1.23");
        assert_eq!(num(Some(f64::NAN), 2), "—");
        assert_eq!(percent(Some(0.4567)), "45.7%");
        assert_eq!(percent(None), "—");
        assert_eq!(bytes(Some(1536.0)), "1.5 KiB");
        assert_eq!(bytes(Some(12.0)), "12 B");
    }
}
