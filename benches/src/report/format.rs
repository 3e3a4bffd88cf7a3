//! How figures are written in the reports: one function per kind of number, so a figure reads
//! the same in a run's summary, a suite's table and a comparison.

use std::fmt::Write as _;

/// Shown in a table cell whose figure the run did not measure.
pub(crate) const ABSENT: &str = "—";

/// 10^6 bytes per second, one decimal: `412.3`.
pub(crate) fn mb_per_s(value: f64) -> String {
    finite(value, |v| format!("{v:.1}"))
}

/// A count or a rate of records, whole, with thousands separators: `1,234,567`.
pub(crate) fn count(value: f64) -> String {
    finite(value, |v| {
        let rounded = v.round();
        let digits = format!("{:.0}", rounded.abs());
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if rounded < 0.0 {
            out.push('-');
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    })
}

/// Milliseconds to about three significant digits, as the histograms record them:
/// `0.812`, `2.35`, `12.4`, `154`.
pub(crate) fn ms(value: f64) -> String {
    finite(value, |v| {
        let magnitude = v.abs();
        if magnitude == 0.0 {
            "0".to_string()
        } else if magnitude < 1.0 {
            format!("{v:.3}")
        } else if magnitude < 10.0 {
            format!("{v:.2}")
        } else if magnitude < 100.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.0}")
        }
    })
}

/// Seconds with one decimal: `60.0 s`.
pub(crate) fn seconds(value: f64) -> String {
    finite(value, |v| format!("{v:.1} s"))
}

/// CPU seconds, two decimals: `12.34`.
pub(crate) fn cpu_s(value: f64) -> String {
    finite(value, |v| format!("{v:.2}"))
}

/// `b / a` as a factor: `1.23×`.
pub(crate) fn ratio(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.2}×"),
        _ => ABSENT.to_string(),
    }
}

/// Bytes in binary units: `15.6 GiB`.
pub(crate) fn bytes(value: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = value as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// An optional figure through `format`, or [`ABSENT`].
pub(crate) fn or_absent<T>(value: Option<T>, format: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| ABSENT.to_string(), format)
}

/// A text for a Markdown table cell: `|` escaped, line breaks folded, empty shown as `unknown`.
pub(crate) fn cell(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "unknown".to_string();
    }
    trimmed
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// Text as inline code in a table cell (backticks inside are replaced, as they would end it).
pub(crate) fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'").replace(['\r', '\n'], " "))
}

/// A name safe to use as a file name stem and as a relative link: letters, digits, `.`, `-` and
/// `_` are kept, anything else becomes `_`; never empty, never `.` or `..`.
pub(crate) fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.trim_matches('.').is_empty() {
        format!("run{}", stem.replace('.', "_"))
    } else {
        stem
    }
}

/// A Markdown table of figures: a header row, the alignment row (first column left, the
/// figures right) and the rows. Cells are written as given; escape them with [`cell`] first.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    markdown_table(header, rows, "---:")
}

/// A Markdown table of text (names and values of settings), every column aligned left.
pub(crate) fn text_table(header: &[&str], rows: &[Vec<String>]) -> String {
    markdown_table(header, rows, ":---")
}

fn markdown_table(header: &[&str], rows: &[Vec<String>], value_align: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let align: Vec<&str> = (0..header.len())
        .map(|i| if i == 0 { ":---" } else { value_align })
        .collect();
    let _ = writeln!(out, "| {} |", align.join(" | "));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

fn finite(value: f64, format: impl FnOnce(f64) -> String) -> String {
    if value.is_finite() {
        format(value)
    } else {
        ABSENT.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_intended() {
        assert_eq!(mb_per_s(412.345), "412.3");
        assert_eq!(count(1_234_567.4), "1,234,567");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1000.0), "1,000");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(ms(0.8123), "0.812");
        assert_eq!(ms(2.345_1), "2.35");
        assert_eq!(ms(12.44), "12.4");
        assert_eq!(ms(154.2), "154");
        assert_eq!(ms(0.0), "0");
        assert_eq!(ms(f64::NAN), ABSENT);
        assert_eq!(seconds(60.0), "60.0 s");
        assert_eq!(ratio(Some(1.234)), "1.23×");
        assert_eq!(ratio(None), ABSENT);
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(16 * 1024 * 1024 * 1024), "16.0 GiB");
    }

    #[test]
    fn cells_and_file_names_are_safe() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(cell("  "), "unknown");
        assert_eq!(file_stem("max-1t16p-1k"), "max-1t16p-1k");
        assert_eq!(file_stem("a/b c"), "a_b_c");
        assert_eq!(file_stem(".."), "run__");
        assert_eq!(file_stem(""), "run");
    }
}
