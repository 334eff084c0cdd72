//! Sizes as operators write them: "500M", "2G", "unlimited".

use anyhow::bail;

/// Parses a size in bytes; K, M, G and T are powers of 1024, as in Dovecot's
/// quota settings. "0", "none" and "unlimited" mean no limit (0).
pub fn parse_size(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "unlimited" | "none" | "0") {
        return Ok(0);
    }
    let t = t.trim_end_matches("ib").trim_end_matches('b');
    let (digits, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: i64 = match digits.trim().parse() {
        Ok(n) if n >= 0 => n,
        _ => bail!("invalid size {s:?} (write it like 500M, 2G or unlimited)"),
    };
    n.checked_mul(mult).ok_or_else(|| anyhow::anyhow!("size {s:?} is too large"))
}

pub fn show_size(bytes: i64) -> String {
    if bytes <= 0 {
        return "unlimited".into();
    }
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if bytes % (1i64 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500M").unwrap(), 500 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("2gb").unwrap(), 2 << 30);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("unlimited").unwrap(), 0);
        assert!(parse_size("-5M").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(show_size(2 << 30), "2G");
        assert_eq!(show_size(0), "unlimited");
        assert_eq!(show_size(1000), "1000");
    }
}
