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
    // UTC, ISO 8601.
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = atoll_message::date::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
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
