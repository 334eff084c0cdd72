//! Address resolutions per second through `Directory::resolve`, for a
//! directory of (by default) 1,000,000 accounts and 100,000 aliases, with
//! the in-process cache and without it.
//!
//! The directory at URL must be empty (bench/directory-resolve.sh starts
//! throwaway PostgreSQL and MariaDB servers; SQLite gets a temporary file).
//! The lookup mix is 80% accounts (a quarter of them with a sub-address),
//! 15% aliases (a third of them alias → alias → account), 5% unknown users.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use atoll_directory::{Directory, Resolution, Settings};
use atoll_testkit::rng::Rng;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// sqlite://…, postgres://… or mysql://…; empty: a temporary SQLite file
    #[arg(long, default_value = "")]
    url: String,
    #[arg(long, default_value_t = 1_000_000)]
    accounts: usize,
    #[arg(long, default_value_t = 100_000)]
    aliases: usize,
    #[arg(long, default_value_t = 10)]
    domains: usize,
    /// Seconds per measurement
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent resolving tasks (the MX resolves for many sessions at once)
    #[arg(long, default_value_t = 16)]
    tasks: usize,
    /// Distinct addresses asked in the cached run (the hot working set)
    #[arg(long, default_value_t = 50_000)]
    working_set: usize,
}

fn domain(i: usize) -> String {
    format!("d{i}.example")
}

/// The i-th address of the lookup mix.
fn address(a: &Args, rng: &mut Rng) -> String {
    let per_domain = a.accounts / a.domains;
    let roll = rng.below(100);
    if roll < 80 {
        let n = rng.below(a.accounts);
        let sub = if roll < 20 { "+news" } else { "" };
        format!("user{n}{sub}@{}", domain(n / per_domain))
    } else if roll < 95 {
        let n = rng.below(a.aliases);
        format!("alias{n}@{}", domain(n % a.domains))
    } else {
        let n = rng.below(a.accounts);
        format!("nobody{n}@{}", domain(n % a.domains))
    }
}

async fn populate(dir: &Directory, a: &Args) -> anyhow::Result<()> {
    let t = Instant::now();
    // One real hash shared by all rows: hashing a million passwords would
    // measure argon2, not the directory.
    let hash = atoll_password::hash("bench-password")?;
    let per_domain = a.accounts / a.domains;
    for d in 0..a.domains {
        dir.add_domain(&domain(d)).await?;
        let rows: Vec<(String, String)> =
            (d * per_domain..(d + 1) * per_domain).map(|n| (format!("user{n}"), hash.clone())).collect();
        for chunk in rows.chunks(50_000) {
            dir.bulk_insert_accounts(&domain(d), "default", chunk).await?;
        }
    }
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    for d in 0..a.domains {
        // alias n lives in domain n % domains; one in three points at another
        // alias (a chain of two), the rest at an account.
        let rows: Vec<(String, String)> = (0..a.aliases)
            .filter(|n| n % a.domains == d)
            .map(|n| {
                let target = if n % 3 == 0 && n >= a.domains {
                    let m = n - a.domains;
                    format!("alias{m}@{}", domain(m % a.domains))
                } else {
                    let m = rng.below(a.accounts);
                    format!("user{m}@{}", domain(m / per_domain))
                };
                (format!("alias{n}"), target)
            })
            .collect();
        for chunk in rows.chunks(50_000) {
            dir.bulk_insert_aliases(&domain(d), chunk).await?;
        }
    }
    println!("loaded {} accounts and {} aliases in {:.1}s", a.accounts, a.aliases, t.elapsed().as_secs_f64());
    Ok(())
}

/// Runs `tasks` resolvers for `seconds`; returns resolutions per second.
async fn measure(dir: &Directory, a: &Args, working_set: Option<Arc<Vec<String>>>) -> anyhow::Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for t in 0..a.tasks {
        let (dir, stop, count, ws) = (dir.clone(), stop.clone(), count.clone(), working_set.clone());
        let args = Args { url: String::new(), ..*a };
        handles.push(tokio::spawn(async move {
            let mut rng = Rng::new(0x1234_5678 + t as u64 * 7919);
            let mut delivered = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let addr = match &ws {
                    Some(ws) => ws[rng.below(ws.len())].clone(),
                    None => address(&args, &mut rng),
                };
                let r = dir.resolve(&addr).await?;
                if matches!(*r, Resolution::Deliver { .. }) {
                    delivered += 1;
                }
                count.fetch_add(1, Ordering::Relaxed);
                // A cache hit completes without waiting; let other tasks in.
                tokio::task::yield_now().await;
            }
            anyhow::Ok(delivered)
        }));
    }
    let start = Instant::now();
    // The clock runs on its own thread: busy workers must not delay the stop.
    let stopper = stop.clone();
    let seconds = a.seconds;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(seconds));
        stopper.store(true, Ordering::Relaxed);
    });
    let mut delivered = 0;
    for h in handles {
        delivered += h.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = count.load(Ordering::Relaxed);
    // Sanity: the mix is 95% deliverable; far less means the load is broken.
    if (delivered as f64) < n as f64 * 0.85 {
        bail!("only {delivered} of {n} lookups were deliverable");
    }
    Ok(n as f64 / elapsed)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut a = Args::parse();
    if a.domains == 0 || a.accounts < a.domains || a.aliases == 0 {
        bail!("need at least one domain, one account per domain and one alias");
    }
    let tmp = std::env::temp_dir().join(format!("atoll-bench-{}", std::process::id()));
    if a.url.is_empty() {
        std::fs::create_dir_all(&tmp)?;
        a.url = format!("sqlite://{}?mode=rwc", tmp.join("directory.db").display());
    }
    let engine = a.url.split(':').next().unwrap_or("?").to_string();
    let no_cache = Settings { cache_capacity: 0, max_connections: 8, ..Settings::default() };
    let dir = Directory::open(&a.url, no_cache.clone())
        .await
        .with_context(|| format!("open {}", atoll_directory::redact(&a.url)))?;
    dir.ensure_island("default", "").await?;
    populate(&dir, &a).await?;

    let uncached = measure(&dir, &a, None).await?;

    let cached_dir = Directory::connect(
        &a.url,
        Settings { cache_capacity: 1_000_000, cache_ttl: Duration::from_secs(300), ..no_cache },
    )
    .await?;
    let mut rng = Rng::new(42);
    let ws: Vec<String> = (0..a.working_set).map(|_| address(&a, &mut rng)).collect();
    for addr in &ws {
        cached_dir.resolve(addr).await?;
    }
    let cached = measure(&cached_dir, &a, Some(Arc::new(ws))).await?;

    println!(
        "directory-resolve engine={engine} accounts={} aliases={} tasks={} uncached={:.0}/s cached={:.0}/s",
        a.accounts, a.aliases, a.tasks, uncached, cached
    );
    dir.close().await;
    cached_dir.close().await;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
