//! Sequence sets (RFC 9051 §9 `sequence-set`): `1:3,7,10:*`, and `$` for
//! the saved search result (RFC 5182).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    Ranges(Vec<(Bound, Bound)>),
    /// `$`.
    Saved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
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
    /// Whether `n` is in the set when `*` is `max`. `a:b` is the same as
    /// `b:a` (RFC 9051 §9).
    pub fn contains(&self, n: u32, max: u32) -> bool {
        match self {
            SequenceSet::Saved => false,
            SequenceSet::Ranges(r) => r.iter().any(|(a, b)| {
                let (a, b) = (a.resolve(max), b.resolve(max));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                (lo..=hi).contains(&n)
            }),
        }
    }

    /// The members of the set that are in `present` (sorted ascending),
    /// without duplicates. With `*` meaning the largest of `present`
    /// (0 when empty). Cost is linear in `present`, however large the
    /// ranges are, so `1:4294967295` is cheap.
    pub fn select(&self, present: &[u32]) -> Vec<u32> {
        let max = present.last().copied().unwrap_or(0);
        present.iter().copied().filter(|n| self.contains(*n, max)).collect()
    }

    /// Parses `1:3,5,*`; None if malformed or a number is 0.
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
}

fn bound(s: &str) -> Option<Bound> {
    if s == "*" {
        return Some(Bound::Star);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    s.parse::<u32>().ok().map(Bound::Number)
}

/// Writes numbers (any order) as a compact set: `1:3,5,9:10`.
pub fn compress(numbers: &[u32]) -> String {
    let mut v = numbers.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_select() {
        let s = SequenceSet::parse("1:3,7,10:*").expect("valid");
        assert_eq!(s.select(&[1, 2, 3, 4, 7, 8, 12]), [1, 2, 3, 7, 12]);
        let s = SequenceSet::parse("5:2").expect("reversed range");
        assert_eq!(s.select(&[1, 2, 3, 4, 5, 6]), [2, 3, 4, 5]);
        assert_eq!(SequenceSet::parse("*").expect("star").select(&[3, 9]), [9]);
        assert!(SequenceSet::parse("*").expect("star").select(&[]).is_empty());
        assert_eq!(SequenceSet::parse("1:4294967295").expect("max").select(&[5]), [5]);
        for bad in ["", "0", "1:0", "a", "1,,2", "1:", "4294967296", "01"] {
            assert!(SequenceSet::parse(bad).is_none(), "{bad:?} must be refused");
        }
        assert_eq!(SequenceSet::parse("$"), Some(SequenceSet::Saved));
    }

    #[test]
    fn compresses() {
        assert_eq!(compress(&[5, 1, 2, 3, 9, 10]), "1:3,5,9:10");
        assert_eq!(compress(&[]), "");
        assert_eq!(compress(&[7]), "7");
    }
}
