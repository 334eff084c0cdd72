//! Address resolution: what to do with mail for one recipient.
//!
//! The MX asks this for every RCPT TO, so the common case is one query (the
//! lookup below fetches account, forwards, aliases, list, catch-all and the
//! domain in one round trip) and repeated questions are answered from a
//! bounded in-process cache with a short TTL. The directory stays the truth:
//! a change made through this process clears the cache at once; changes made
//! elsewhere show after at most the TTL.

use std::sync::Arc;

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::address::Address;
use crate::model::state;
use crate::{Directory, Error, Result, Settings};

/// The answer for one recipient address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Resolution {
    /// Accept; deliver to these (never empty, no duplicates).
    Deliver { destinations: Vec<Destination> },
    /// A domain of ours, but nobody there by that name (SMTP 550 5.1.1).
    Unknown,
    /// Not one of our domains (relaying is someone else's question).
    NotLocal,
    /// The account exists but is suspended (SMTP 550 5.2.1).
    Suspended { address: String },
    /// Aliases or forwards lead back to themselves or deeper than the
    /// configured limit (SMTP 554 5.4.6, RFC 3463 "routing loop detected").
    Loop { chain: String },
    /// Every target of the alias is gone or suspended.
    Undeliverable { reason: String },
}

/// Where one copy of the message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destination {
    /// A mailbox on an island; `detail` is the sub-address (`bob+detail@`).
    Mailbox { account_id: i64, address: String, island: String, detail: Option<String> },
    /// An address outside our domains: the outbound queue.
    External { address: String },
    /// A mailing list, expanded to its members by the MX.
    List { list_id: i64, address: String, policy: String },
}

impl Destination {
    fn key(&self) -> (&'static str, &str) {
        match self {
            Destination::Mailbox { address, .. } => ("m", address),
            Destination::External { address } => ("e", address),
            Destination::List { address, .. } => ("l", address),
        }
    }
}

/// The bounded, expiring cache of resolutions.
#[derive(Clone)]
pub(crate) struct Cache(Option<moka::sync::Cache<String, Arc<Resolution>>>);

impl Cache {
    pub(crate) fn new(s: &Settings) -> Cache {
        if s.cache_capacity == 0 || s.cache_ttl.is_zero() {
            return Cache(None);
        }
        Cache(Some(moka::sync::Cache::builder().max_capacity(s.cache_capacity).time_to_live(s.cache_ttl).build()))
    }

    pub(crate) fn clear(&self) {
        if let Some(c) = &self.0 {
            c.invalidate_all();
        }
    }
}

/// Everything the directory knows about one local part of one domain.
enum Found {
    NotLocal,
    Unknown,
    Account { id: i64, state: String, island: String, detail: Option<String>, forwards: Vec<(String, bool)> },
    Alias { targets: Vec<String> },
    List { id: i64, policy: String },
}

const LOOKUP: &str = "\
SELECT 'a', a.localpart, a.id, a.state, i.name, 0 FROM accounts a \
  JOIN domains d ON d.id = a.domain_id JOIN islands i ON i.id = a.island_id \
  WHERE d.name = ? AND a.localpart IN (?, ?) \
UNION ALL SELECT 'f', a.localpart, a.id, '', f.target, f.keep_copy FROM forwards f \
  JOIN accounts a ON a.id = f.account_id JOIN domains d ON d.id = a.domain_id \
  WHERE d.name = ? AND a.localpart IN (?, ?) \
UNION ALL SELECT 'x', al.localpart, al.id, '', al.target, 0 FROM aliases al \
  JOIN domains d ON d.id = al.domain_id \
  WHERE d.name = ? AND al.localpart IN (?, ?, '') \
UNION ALL SELECT 'l', l.localpart, l.id, l.policy, '', 0 FROM lists l \
  JOIN domains d ON d.id = l.domain_id \
  WHERE d.name = ? AND l.localpart IN (?, ?) \
UNION ALL SELECT 'd', '', d.id, '', '', 0 FROM domains d WHERE d.name = ?";

struct LookupRow {
    kind: String,
    local: String,
    id: i64,
    state: String,
    text: String,
    flag: i64,
}

async fn lookup(conn: &mut AnyConnection, dir: &Directory, addr: &Address) -> Result<Found> {
    let (base, detail) = match addr.split_detail(&dir.settings.subaddress_separators) {
        Some((b, d)) => (b, Some(d)),
        None => (addr.local.as_str(), None),
    };
    let local = addr.local.as_str();
    let d = addr.domain.as_str();
    // Accounts, forwards, aliases and lists each take (domain, local, base);
    // the domain check takes the domain.
    let mut query = sqlx::query(dir.db.dialect.sql(LOOKUP));
    for _ in 0..4 {
        query = query.bind(d).bind(local).bind(base);
    }
    let rows = query.bind(d).fetch_all(conn).await?;
    let mut rows = rows
        .iter()
        .map(|r| {
            Ok(LookupRow {
                kind: r.try_get(0)?,
                local: r.try_get(1)?,
                id: r.try_get(2)?,
                state: r.try_get(3)?,
                text: r.try_get(4)?,
                flag: r.try_get(5)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // Engines return rows in any order; sorted targets make every answer
    // (and so every delivery order) the same on every engine and every node.
    rows.sort_by(|a, b| (&a.kind, &a.text).cmp(&(&b.kind, &b.text)));
    if !rows.iter().any(|r| r.kind == "d") {
        return Ok(Found::NotLocal);
    }
    // An exact match of the whole local part wins over the base of a
    // sub-address, which wins over the catch-all.
    let mut candidates: Vec<(&str, Option<&str>)> = vec![(local, None)];
    if let Some(detail) = detail {
        candidates.push((base, Some(detail)));
    }
    for (lp, det) in candidates {
        if let Some(a) = rows.iter().find(|r| r.kind == "a" && r.local == lp) {
            let forwards =
                rows.iter().filter(|r| r.kind == "f" && r.local == lp).map(|r| (r.text.clone(), r.flag != 0)).collect();
            return Ok(Found::Account {
                id: a.id,
                state: a.state.clone(),
                island: a.text.clone(),
                detail: det.map(str::to_string),
                forwards,
            });
        }
        let targets: Vec<String> =
            rows.iter().filter(|r| r.kind == "x" && r.local == lp).map(|r| r.text.clone()).collect();
        if !targets.is_empty() {
            return Ok(Found::Alias { targets });
        }
        if let Some(l) = rows.iter().find(|r| r.kind == "l" && r.local == lp) {
            return Ok(Found::List { id: l.id, policy: l.state.clone() });
        }
    }
    let catch_all: Vec<String> =
        rows.iter().filter(|r| r.kind == "x" && r.local.is_empty()).map(|r| r.text.clone()).collect();
    if !catch_all.is_empty() {
        return Ok(Found::Alias { targets: catch_all });
    }
    Ok(Found::Unknown)
}

/// Upper bound on lookups for one recipient, so a wide fan of aliases
/// cannot turn one RCPT into thousands of queries.
const MAX_LOOKUPS: usize = 1000;

/// Resolves `addr` with the queries running on `conn` (a pooled connection,
/// or an open transaction when checking a change before it commits).
pub(crate) async fn resolve_in(conn: &mut AnyConnection, dir: &Directory, addr: &Address) -> Result<Resolution> {
    let max_depth = dir.settings.max_alias_depth as usize;
    let mut out: Vec<Destination> = Vec::new();
    let mut lost: Vec<String> = Vec::new();
    // Depth-first over (address, chain that led to it). The chain, not a
    // global visited set, detects loops: two aliases may share a target.
    let mut stack: Vec<(Address, Vec<String>)> = vec![(addr.clone(), Vec::new())];
    let mut lookups = 0;
    while let Some((a, chain)) = stack.pop() {
        let top = chain.is_empty();
        let key = a.to_string();
        if chain.contains(&key) {
            return Ok(Resolution::Loop { chain: format!("{} -> {key}", chain.join(" -> ")) });
        }
        if chain.len() > max_depth {
            return Ok(Resolution::Loop {
                chain: format!("{} -> … (more than {max_depth} levels)", chain.join(" -> ")),
            });
        }
        lookups += 1;
        if lookups > MAX_LOOKUPS {
            return Ok(Resolution::Undeliverable { reason: format!("more than {MAX_LOOKUPS} targets") });
        }
        let found = lookup(conn, dir, &a).await?;
        let mut next_chain = chain;
        next_chain.push(key.clone());
        let mut push_targets = |targets: Vec<String>, lost: &mut Vec<String>| {
            for t in targets.into_iter().rev() {
                match Address::parse(&t) {
                    Ok(ta) => stack.push((ta, next_chain.clone())),
                    Err(_) => lost.push(t),
                }
            }
        };
        match found {
            Found::NotLocal if top => return Ok(Resolution::NotLocal),
            Found::NotLocal => out.push(Destination::External { address: key }),
            Found::Unknown if top => return Ok(Resolution::Unknown),
            Found::Unknown => lost.push(key),
            Found::Account { state: st, .. } if st != state::ACTIVE => {
                if top {
                    return Ok(Resolution::Suspended { address: key });
                }
                lost.push(key);
            }
            Found::Account { id, island, detail, forwards, .. } => {
                let keep = forwards.is_empty() || forwards.iter().any(|(_, keep)| *keep);
                let address = match &detail {
                    Some(_) => {
                        let base =
                            a.split_detail(&dir.settings.subaddress_separators).map(|(b, _)| b).unwrap_or(&a.local);
                        format!("{base}@{}", a.domain)
                    }
                    None => key,
                };
                if keep {
                    out.push(Destination::Mailbox { account_id: id, address, island, detail });
                }
                push_targets(forwards.into_iter().map(|(t, _)| t).collect(), &mut lost);
            }
            Found::Alias { targets } => push_targets(targets, &mut lost),
            Found::List { id, policy } => out.push(Destination::List { list_id: id, address: key, policy }),
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|d| {
        let (k, a) = d.key();
        seen.insert((k, a.to_string()))
    });
    if out.is_empty() {
        return Ok(Resolution::Undeliverable {
            reason: format!("no deliverable target (gone or suspended: {})", lost.join(", ")),
        });
    }
    Ok(Resolution::Deliver { destinations: out })
}

/// Refuses a change that makes `addr` loop; runs inside the change's
/// transaction, so the loop is caught before anyone can see it.
pub(crate) async fn check_no_loop(conn: &mut AnyConnection, dir: &Directory, addr: &Address) -> Result<()> {
    match resolve_in(conn, dir, addr).await? {
        Resolution::Loop { chain } => Err(Error::AliasLoop(chain)),
        _ => Ok(()),
    }
}

impl Directory {
    /// What to do with mail for `address`, from the cache when it is fresh.
    pub async fn resolve(&self, address: &str) -> Result<Arc<Resolution>> {
        let addr = Address::parse(address)?;
        let key = addr.to_string();
        if let Some(cache) = &self.cache.0
            && let Some(hit) = cache.get(&key)
        {
            return Ok(hit);
        }
        let mut conn = self.db.pool.acquire().await?;
        let r = Arc::new(resolve_in(&mut conn, self, &addr).await?);
        if let Some(cache) = &self.cache.0 {
            cache.insert(key, r.clone());
        }
        Ok(r)
    }

    /// Resolves without the cache: always the directory's current answer.
    pub async fn resolve_uncached(&self, address: &str) -> Result<Resolution> {
        let addr = Address::parse(address)?;
        let mut conn = self.db.pool.acquire().await?;
        resolve_in(&mut conn, self, &addr).await
    }
}
