//! Sizes written the way operators write them: "50M", "1G", "512K" or a
//! number of bytes. K, M, G and T are powers of 1024, as in `atoll user add
//! --quota`.

use serde::{Deserialize, Deserializer, Serializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Bytes(i64),
    Text(String),
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Raw::deserialize(d)? {
        Raw::Bytes(n) => u64::try_from(n).map_err(|_| serde::de::Error::custom(format!("invalid size {n}"))),
        Raw::Text(text) => parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid size {text:?}; write it like \"50M\", \"1G\" or a number of bytes"
            ))
        }),
    }
}

pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&show(*value))
}

pub(crate) fn parse(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.trim_end_matches("ib").trim_end_matches('b');
    let (digits, shift) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 10),
        'm' => (&t[..t.len() - 1], 20),
        'g' => (&t[..t.len() - 1], 30),
        't' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1 << shift)
}

pub(crate) fn show(bytes: u64) -> String {
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if bytes != 0 && bytes.is_multiple_of(1u64 << shift) {
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
        assert_eq!(parse("50M"), Some(50 << 20));
        assert_eq!(parse("1GiB"), Some(1 << 30));
        assert_eq!(parse("512kb"), Some(512 << 10));
        assert_eq!(parse("1000"), Some(1000));
        assert_eq!(parse("-1M"), None);
        assert_eq!(parse("big"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("99999999999T"), None);
        assert_eq!(show(50 << 20), "50M");
        assert_eq!(show(1000), "1000");
        assert_eq!(show(0), "0");
        for s in ["50M", "1000", "3K", "2G"] {
            assert_eq!(show(parse(s).unwrap()), s);
        }
    }
}
