//! `atoll user import FILE.csv`: bulk account creation.
//!
//! The file has a header row naming its columns: `address` (required),
//! `password` (cleartext, hashed with argon2id) or `password_hash` (a hash
//! exported from Dovecot/Postfix, kept as is), `name`, `quota`, `island`,
//! `group`. Rows go in batches, each all-or-nothing; every bad line is
//! reported with its line number and its batch is left out, so the file can
//! be fixed and the failed batches imported again.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use atoll_directory::{Directory, NewAccount, PasswordInput};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::Context;
use crate::units::parse_size;

#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
    /// Rows per transaction
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

const COLUMNS: [&str; 7] = ["address", "password", "password_hash", "name", "quota", "island", "group"];

struct Columns {
    idx: [Option<usize>; 7],
}

impl Columns {
    fn get<'a>(&self, rec: &'a csv::StringRecord, name: &str) -> Option<&'a str> {
        let i = COLUMNS.iter().position(|c| *c == name)?;
        self.idx[i].and_then(|j| rec.get(j)).map(str::trim).filter(|s| !s.is_empty())
    }
}

fn parse_row(cols: &Columns, rec: &csv::StringRecord) -> anyhow::Result<NewAccount> {
    let address = cols.get(rec, "address").context("empty address")?;
    let password = match (cols.get(rec, "password"), cols.get(rec, "password_hash")) {
        (Some(_), Some(_)) => bail!("{address}: both password and password_hash given"),
        (Some(p), None) => PasswordInput::Plain(p.to_string()),
        (None, Some(h)) => PasswordInput::Hash(h.to_string()),
        (None, None) => PasswordInput::None,
    };
    let quota_bytes = match cols.get(rec, "quota") {
        Some(q) => parse_size(q).with_context(|| address.to_string())?,
        None => 0,
    };
    Ok(NewAccount {
        address: address.to_string(),
        password,
        island: cols.get(rec, "island").map(str::to_string),
        group: cols.get(rec, "group").map(str::to_string),
        quota_bytes,
        display_name: cols.get(rec, "name").unwrap_or("").to_string(),
    })
}

pub async fn run(ctx: &Context, dir: &Directory, args: Args) -> anyhow::Result<()> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let label = args.file.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .comment(Some(b'#'))
        .from_path(&args.file)
        .with_context(|| format!("cannot open {label}"))?;
    let header = reader.headers().with_context(|| format!("{label}: cannot read the header row"))?.clone();
    let mut idx = [None; 7];
    for (j, h) in header.iter().enumerate() {
        let h = h.trim().to_ascii_lowercase();
        match COLUMNS.iter().position(|c| *c == h) {
            Some(i) => idx[i] = Some(j),
            None => bail!("{label}: line 1: unknown column {h:?} (known: {})", COLUMNS.join(", ")),
        }
    }
    if idx[0].is_none() {
        bail!("{label}: line 1: the header has no \"address\" column");
    }
    let cols = Columns { idx };

    // Read everything first: a file that is not CSV fails before any change.
    let mut rows: Vec<(usize, anyhow::Result<NewAccount>)> = Vec::new();
    for rec in reader.records() {
        match rec {
            Ok(rec) => {
                let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
                rows.push((line, parse_row(&cols, &rec)));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                rows.push((line, Err(anyhow::anyhow!("{e}"))));
            }
        }
    }

    let bar = ProgressBar::new(rows.len() as u64);
    if ctx.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} accounts, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let mut imported = 0;
    let mut bad: Vec<(usize, String)> = Vec::new();
    let mut failed_batches: Vec<(usize, usize)> = Vec::new();
    for chunk in rows.chunks(args.batch) {
        let first = chunk.first().map(|r| r.0).unwrap_or(0);
        let last = chunk.last().map(|r| r.0).unwrap_or(0);
        let mut unparsable: Vec<(usize, String)> = Vec::new();
        let mut good = Vec::new();
        for (line, r) in chunk {
            match r {
                Ok(acc) => good.push((*line, acc.clone())),
                Err(e) => unparsable.push((*line, format!("{e:#}"))),
            }
        }
        if !unparsable.is_empty() {
            bad.extend(unparsable);
            failed_batches.push((first, last));
        } else {
            let report = dir.import_accounts(&good).await?;
            if report.bad_lines.is_empty() {
                imported += report.imported;
            } else {
                bad.extend(report.bad_lines);
                failed_batches.push((first, last));
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();

    if ctx.json {
        let bad_json: Vec<_> = bad.iter().map(|(l, m)| serde_json::json!({ "line": l, "error": m })).collect();
        let batches: Vec<_> =
            failed_batches.iter().map(|(a, b)| serde_json::json!({ "first_line": a, "last_line": b })).collect();
        println!("{}", serde_json::json!({ "imported": imported, "bad_lines": bad_json, "failed_batches": batches }));
    } else {
        println!("imported {imported} accounts from {label}");
    }
    if !bad.is_empty() {
        for (line, msg) in &bad {
            eprintln!("{label}: line {line}: {msg}");
        }
        let ranges: Vec<String> = failed_batches.iter().map(|(a, b)| format!("{a}-{b}")).collect();
        bail!("{} bad lines; the batches at lines {} were not imported", bad.len(), ranges.join(", "));
    }
    Ok(())
}
