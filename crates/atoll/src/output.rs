//! Tables for people, JSON for scripts.

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use crate::context::Context;

/// Prints `rows` as JSON, or as a table with `header` built by `row`.
pub fn print<T: Serialize>(
    ctx: &Context,
    rows: &[T],
    header: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| h.to_uppercase()));
    for r in rows {
        t.add_row(row(r));
    }
    println!("{}", t.trim_fmt());
    Ok(())
}

/// Prints one object: JSON, or `key: value` lines.
pub fn print_one<T: Serialize>(ctx: &Context, value: &T, lines: &[(&str, String)]) -> anyhow::Result<()> {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(value)?);
        return Ok(());
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in lines {
        println!("{k:<width$}  {v}");
    }
    Ok(())
}

/// Confirms a change: silent with --json (scripts check the exit code).
pub fn done(ctx: &Context, message: &str) {
    if ctx.json {
        println!("{}", serde_json::json!({ "ok": true, "message": message }));
    } else {
        println!("{message}");
    }
}

pub fn time(epoch: i64) -> String {
    if epoch <= 0 {
        return "-".into();
    }
    // UTC, ISO 8601, without pulling in a calendar crate for one format.
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_times() {
        assert_eq!(super::time(0), "-");
        assert_eq!(super::time(1_700_000_000), "2023-11-14 22:13:20Z");
        assert_eq!(super::time(951_782_400), "2000-02-29 00:00:00Z");
    }
}
