//! Sequence sets (RFC 9051 §9 `sequence-set`): `1:3,7,10:*`, and `$` for
//! the saved search result (SEARCHRES, RFC 5182 §2.1).
//!
//! The same type holds message sequence numbers and UIDs; what `*` means is
//! the caller's: the number of messages, or the highest UID in use.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    /// Ranges as sent: `a:b` may come as `b:a` (RFC 9051 §9: "4:2" is
    /// "2:4"), and single numbers are `(n, n)`. Never empty when parsed;
    /// [`SequenceSet::from_numbers`] of nothing is the empty set.
    Ranges(Vec<(Bound, Bound)>),
    /// `$`: the result saved by `SEARCH RETURN (SAVE)`. The session
    /// substitutes it (see [`SequenceSet::from_numbers`]); the methods
    /// below treat it as empty.
    Saved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Never 0 (RFC 9051 `seq-number` is `nz-number / "*"`).
    Number(u32),
    /// `*`: the largest number in use.
    Star,
}

impl Bound {
    fn resolve(self, max: u32) -> u32 {
        match self {
            Bound::Number(n) => n,
            Bound::Star => max,
        }
    }
}

impl SequenceSet {
    /// Parses `1:3,5,*` or `$`; None when malformed, a number is 0 or
    /// larger than a u32 (RFC 9051 `nz-number`).
    pub fn parse(s: &str) -> Option<SequenceSet> {
        if s == "$" {
            return Some(SequenceSet::Saved);
        }
        let mut out = Vec::new();
        for part in s.split(',') {
            let (a, b) = match part.split_once(':') {
                Some((a, b)) => (bound(a)?, bound(b)?),
                None => {
                    let x = bound(part)?;
                    (x, x)
                }
            };
            out.push((a, b));
        }
        Some(SequenceSet::Ranges(out))
    }

    /// The set of exactly these numbers (0 is skipped), written compactly;
    /// `$` resolved to the saved result, for instance. An empty input
    /// gives a set that contains nothing (and has no wire form).
    pub fn from_numbers(numbers: &[u32]) -> SequenceSet {
        let ranges = runs(numbers.iter().copied().filter(|&n| n > 0), true)
            .into_iter()
            .map(|(a, b)| (Bound::Number(a), Bound::Number(b)))
            .collect();
        SequenceSet::Ranges(ranges)
    }

    pub fn is_saved(&self) -> bool {
        matches!(self, SequenceSet::Saved)
    }

    /// Whether `n` is in the set when `*` is `max`.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        match self {
            SequenceSet::Saved => false,
            SequenceSet::Ranges(r) => r.iter().any(|&(a, b)| {
                let (lo, hi) = ordered(a.resolve(max), b.resolve(max));
                (lo..=hi).contains(&n)
            }),
        }
    }

    /// The set as sorted, disjoint, inclusive ranges within `1..=max`, with
    /// `*` as `max`. `max` is the mailbox size for sequence numbers; RFC
    /// 9051 §6.4.9 makes `559:*` include the highest UID even when 559 is
    /// above it, which this gives with `max` = highest UID.
    pub fn ranges(&self, max: u32) -> Vec<(u32, u32)> {
        let SequenceSet::Ranges(r) = self else { return Vec::new() };
        let mut v: Vec<(u32, u32)> = r
            .iter()
            .filter_map(|&(a, b)| {
                let (lo, hi) = ordered(a.resolve(max), b.resolve(max));
                let (lo, hi) = (lo.max(1), hi.min(max));
                (lo <= hi).then_some((lo, hi))
            })
            .collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        out
    }

    /// Every number of the set in `1..=max`, ascending, each once. Lazy:
    /// for UIDs, where `max` may be in the billions and most numbers are
    /// not in use, prefer [`SequenceSet::select`].
    pub fn iter(&self, max: u32) -> impl Iterator<Item = u32> + use<> {
        self.ranges(max).into_iter().flat_map(|(lo, hi)| lo..=hi)
    }

    /// The members of the set that are in `present` (sorted ascending),
    /// without duplicates, with `*` the largest of `present` (nothing when
    /// it is empty). Cost is linear in `present` times the number of
    /// ranges, however wide they are, so `1:4294967295` is cheap.
    pub fn select(&self, present: &[u32]) -> Vec<u32> {
        let Some(&max) = present.last() else { return Vec::new() };
        let ranges = self.ranges(max);
        present
            .iter()
            .copied()
            .filter(|n| {
                // `ranges` is sorted and disjoint: binary search for the one that could hold n.
                let i = ranges.partition_point(|&(_, hi)| hi < *n);
                ranges.get(i).is_some_and(|&(lo, _)| lo <= *n)
            })
            .collect()
    }
}

/// The wire form, as it would be sent (`$`, `1:3,5,7:*`).
impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SequenceSet::Ranges(r) = self else { return f.write_str("$") };
        for (i, &(a, b)) in r.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write_bound(f, a)?;
            if a != b {
                f.write_str(":")?;
                write_bound(f, b)?;
            }
        }
        Ok(())
    }
}

fn write_bound(f: &mut fmt::Formatter<'_>, b: Bound) -> fmt::Result {
    match b {
        Bound::Number(n) => write!(f, "{n}"),
        Bound::Star => f.write_str("*"),
    }
}

fn ordered(a: u32, b: u32) -> (u32, u32) {
    if a <= b { (a, b) } else { (b, a) }
}

fn bound(s: &str) -> Option<Bound> {
    if s == "*" {
        return Some(Bound::Star);
    }
    // nz-number: no leading zero, at least one digit, fits a u32.
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    s.parse::<u32>().ok().map(Bound::Number)
}

/// Runs of consecutive numbers, in the order given (`sort` first when the
/// order does not matter).
fn runs(numbers: impl Iterator<Item = u32>, sort: bool) -> Vec<(u32, u32)> {
    let mut v: Vec<u32> = numbers.collect();
    if sort {
        v.sort_unstable();
        v.dedup();
    }
    let mut out: Vec<(u32, u32)> = Vec::new();
    for n in v {
        match out.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(n) => last.1 = n,
            _ => out.push((n, n)),
        }
    }
    out
}

fn write_runs(runs: &[(u32, u32)]) -> String {
    let mut out = String::new();
    for (i, &(a, b)) in runs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&a.to_string());
        if a != b {
            out.push(':');
            out.push_str(&b.to_string());
        }
    }
    out
}

/// Writes numbers (any order) as a compact, sorted set: `1:3,5,9:10`
/// (for VANISHED, ESEARCH ALL, MODIFIED). Empty input gives "".
pub fn compress(numbers: &[u32]) -> String {
    write_runs(&runs(numbers.iter().copied(), true))
}

/// Writes numbers in the order given, joining ascending runs: COPYUID's
/// two sets must list source and destination UIDs in corresponding order
/// (RFC 4315 §3), so neither may be sorted on its own.
pub fn compress_in_order(numbers: &[u32]) -> String {
    write_runs(&runs(numbers.iter().copied(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> SequenceSet {
        SequenceSet::parse(s).unwrap_or_else(|| panic!("{s:?} is a valid set"))
    }

    #[test]
    fn parse_and_select() {
        assert_eq!(set("1:3,7,10:*").select(&[1, 2, 3, 4, 7, 8, 12]), [1, 2, 3, 7, 12]);
        assert_eq!(set("5:2").select(&[1, 2, 3, 4, 5, 6]), [2, 3, 4, 5]);
        assert_eq!(set("*").select(&[3, 9]), [9]);
        assert!(set("*").select(&[]).is_empty());
        assert_eq!(set("1:4294967295").select(&[5]), [5]);
        // RFC 9051 §6.4.9: 559:* includes the last UID even when it is below 559.
        assert_eq!(set("559:*").select(&[10, 20]), [20]);
        for bad in ["", "0", "1:0", "a", "1,,2", "1:", ":1", "4294967296", "01", "1:2:3", "$,1", "**", "-1", "+1"] {
            assert!(SequenceSet::parse(bad).is_none(), "{bad:?} must be refused");
        }
        assert_eq!(SequenceSet::parse("$"), Some(SequenceSet::Saved));
        assert!(SequenceSet::Saved.select(&[1, 2]).is_empty());
    }

    #[test]
    fn contains_and_expand() {
        let s = set("2:4,9,*");
        assert!(s.contains(3, 10) && s.contains(9, 10) && s.contains(10, 10));
        assert!(!s.contains(5, 10) && !s.contains(1, 10));
        assert_eq!(s.iter(10).collect::<Vec<_>>(), [2, 3, 4, 9, 10]);
        // Numbers beyond the mailbox do not exist.
        assert_eq!(set("3:100").iter(5).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(set("1:*").iter(0).count(), 0, "empty mailbox");
        assert_eq!(set("4,1:3,2,8:6").ranges(10), [(1, 4), (6, 8)]);
        assert_eq!(set("1:4294967295").ranges(u32::MAX), [(1, u32::MAX)]);
        assert!(!SequenceSet::Saved.contains(1, 1));
    }

    #[test]
    fn writes() {
        assert_eq!(compress(&[5, 1, 2, 3, 9, 10]), "1:3,5,9:10");
        assert_eq!(compress(&[]), "");
        assert_eq!(compress(&[7, 7]), "7");
        assert_eq!(compress(&[u32::MAX, u32::MAX - 1]), "4294967294:4294967295");
        assert_eq!(compress_in_order(&[304, 319, 320]), "304,319:320");
        assert_eq!(compress_in_order(&[5, 3, 4]), "5,3:4");
        assert_eq!(set("1:3,5:*,4:2").to_string(), "1:3,5:*,4:2");
        assert_eq!(SequenceSet::Saved.to_string(), "$");
        assert_eq!(SequenceSet::from_numbers(&[3, 1, 2, 0, 9]).to_string(), "1:3,9");
        assert!(SequenceSet::from_numbers(&[]).select(&[1]).is_empty());
    }
}
