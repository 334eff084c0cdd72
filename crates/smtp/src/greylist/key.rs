//! What a greylisting decision is keyed on: the client's network, the
//! sender and the recipient, normalised as Postgrey 1.37 does it
//! (`do_client_substitutions`, `do_sender_substitutions` and the `lc` of
//! the whole key), and the client address the auto-whitelist counts.
//!
//! Keys are bytes, not text (docs/directory.md): an IPv4 network is 4 bytes
//! with the host bits zeroed, an IPv6 network 8 bytes (prefixes up to /64)
//! or 16 (longer prefixes). The lengths never overlap, so an IPv4 network
//! can never share a key with an IPv6 one whatever the prefixes.

use std::net::IpAddr;

/// Longest sender or recipient kept in a key, in characters: the schema's
/// `VARCHAR(255)` on MySQL. RFC 5321 §4.5.3.1.3 allows 256 octets for a
/// path with its angle brackets, so real addresses fit; a longer one is cut
/// rather than refused (Postgrey cuts every attribute at 512).
pub const MAX_ADDRESS_CHARS: usize = 255;

// The same client gets the same key however it was accepted: Postfix
// hands Postgrey the IPv4 form of an IPv4-mapped address too.
pub use atoll_dns::canonical_ip;

/// The client network a triplet is stored under (Postgrey's default
/// `--lookup-by-subnet` with `--ipv4cidr`/`--ipv6cidr`): the address with
/// everything after the prefix zeroed. Big senders retry from another
/// address of the same pool, and the retry must meet the first attempt.
/// IPv4 gives 4 bytes, IPv6 8 bytes for prefixes up to /64 (the schema's
/// form) and 16 beyond. Prefixes longer than the address are the address.
pub fn network_key(ip: IpAddr, ipv4_prefix: u8, ipv6_prefix: u8) -> Vec<u8> {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => mask(v4.octets(), ipv4_prefix).to_vec(),
        IpAddr::V6(v6) => {
            let masked = mask(v6.octets(), ipv6_prefix);
            let len = if ipv6_prefix <= 64 { 8 } else { 16 };
            masked[..len].to_vec()
        }
    }
}

/// The key of a client in the auto-whitelist: its whole address, 4 or 16
/// bytes. Postgrey counts addresses there, not networks
/// (`$cawl_key = $attr->{client_address_ip}->addr()`): one busy host of a
/// pool is whitelisted, its neighbours still earn it themselves.
pub fn client_key(ip: IpAddr) -> Vec<u8> {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// `bytes` with every bit after the first `prefix` cleared.
fn mask<const N: usize>(mut bytes: [u8; N], prefix: u8) -> [u8; N] {
    let prefix = usize::from(prefix);
    for (i, b) in bytes.iter_mut().enumerate() {
        let start = i * 8;
        if prefix <= start {
            *b = 0;
        } else if prefix < start + 8 {
            // 1 to 7 bits of this byte are kept.
            *b &= 0xffu8 << (8 - (prefix - start));
        }
    }
    bytes
}

/// The sender as Postgrey keys it:
///
/// - without a `@` (the null sender `<>`, a bare local part) the address is
///   only lowercased;
/// - BATV (`prvs=TAG=local@` or the inverted `prvs=local=TAG@`, where TAG
///   starts with 10 of `[0-9a-z]`) is unwrapped to the local part; with
///   neither or both halves looking like a tag the last one is taken, as
///   Postgrey does ("throw a coin, pick the standard");
/// - a `+extension` is cut from the local part (mailing-list VERP);
/// - every word of the local part made only of digits becomes `#`
///   (`bounce-1234-5@` → `bounce-#-#@`), so each bounce of a list does not
///   make a new triplet;
/// - then everything is lowercased (ASCII only, as Perl's `lc` does on the
///   bytes Postfix sends).
///
/// Like Postgrey, SRS addresses (`SRS0=hash=tt=domain=local@`) are not
/// unwrapped: a forwarder retries with the same address, so its retries
/// still meet their first attempt. Angle brackets around the address are
/// dropped first, so `<>` is the null sender `""`.
pub fn normalize_sender(sender: &str) -> String {
    let sender = bare(sender);
    // Perl's split(/@/, $addr, 2): the first @ separates the local part.
    let Some((user, domain)) = sender.split_once('@') else {
        return finish(sender.to_string());
    };
    let user = strip_batv(user);
    let user = user.split_once('+').map_or(user, |(u, _)| u);
    let user = replace_numbers(user);
    finish(format!("{user}@{domain}"))
}

/// The recipient as Postgrey keys it: lowercased (ASCII), nothing else; a
/// `+extension` stays, since it may well be another mailbox.
pub fn normalize_recipient(recipient: &str) -> String {
    finish(bare(recipient).to_string())
}

/// The address without the angle brackets of an SMTP path, if any.
pub(crate) fn bare(address: &str) -> &str {
    let a = address.trim();
    a.strip_prefix('<').and_then(|a| a.strip_suffix('>')).unwrap_or(a)
}

/// Lowercased and cut to [`MAX_ADDRESS_CHARS`].
fn finish(mut s: String) -> String {
    s.make_ascii_lowercase();
    if let Some(cut) = s.char_indices().nth(MAX_ADDRESS_CHARS).map(|(i, _)| i) {
        s.truncate(cut);
    }
    s
}

/// Postgrey's BATV rule, on the local part as received (the tag test is
/// case-sensitive there: it runs before the key is lowercased).
fn strip_batv(user: &str) -> &str {
    if !user.starts_with("prvs=") {
        return user;
    }
    let mut parts: Vec<&str> = user.split('=').collect();
    // Perl's split drops trailing empty fields: "prvs=tag=" has two.
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.len() != 3 {
        return user;
    }
    let looks_like_tag =
        |s: &str| s.len() >= 10 && s.bytes().take(10).all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    if looks_like_tag(parts[2]) && !looks_like_tag(parts[1]) { parts[1] } else { parts[2] }
}

/// Perl's `s/\b\d+\b/#/g` on bytes: a run of digits with a word boundary on
/// both sides is a whole word (a maximal run of `[A-Za-z0-9_]`) made of
/// digits only. Bytes outside ASCII are not word characters there.
fn replace_numbers(user: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(user.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in user.chars() {
        if is_word(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn ipv4_networks_are_four_bytes_with_the_host_part_zeroed() {
        assert_eq!(network_key(ip("192.0.2.77"), 24, 64), [192, 0, 2, 0]);
        assert_eq!(network_key(ip("192.0.2.77"), 24, 64), network_key(ip("192.0.2.1"), 24, 64));
        assert_ne!(network_key(ip("192.0.2.77"), 24, 64), network_key(ip("192.0.3.77"), 24, 64));
        assert_eq!(network_key(ip("192.0.2.77"), 32, 64), [192, 0, 2, 77], "/32 is --lookup-by-host");
        assert_eq!(network_key(ip("192.0.2.77"), 16, 64), [192, 0, 0, 0]);
        assert_eq!(network_key(ip("192.0.2.255"), 25, 64), [192, 0, 2, 128]);
        assert_eq!(network_key(ip("192.0.2.255"), 0, 64), [0, 0, 0, 0]);
        assert_eq!(network_key(ip("192.0.2.255"), 40, 64), [192, 0, 2, 255], "longer than the address");
    }

    #[test]
    fn ipv6_networks_are_eight_bytes_up_to_a_64() {
        let a = network_key(ip("2001:db8:1:2:aaaa::1"), 24, 64);
        assert_eq!(a, [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]);
        assert_eq!(a, network_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 24, 64));
        assert_ne!(a, network_key(ip("2001:db8:1:3::1"), 24, 64));
        assert_eq!(network_key(ip("2001:db8:1:2:aaaa::1"), 24, 48), [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0]);
        assert_eq!(network_key(ip("2001:db8:1:ffff::1"), 24, 52), [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0xf0, 0]);
        let long = network_key(ip("2001:db8:1:2:aaaa::1:ff"), 24, 120);
        assert_eq!(long.len(), 16);
        assert_eq!(long[8..], [0xaa, 0xaa, 0, 0, 0, 1, 0, 0], "the last 8 bits of ::1:ff zeroed");
        assert_eq!(network_key(ip("2001:db8::1"), 24, 128), client_key(ip("2001:db8::1")));
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        assert_eq!(canonical_ip(ip("::ffff:192.0.2.9")), ip("192.0.2.9"));
        assert_eq!(network_key(ip("::ffff:192.0.2.9"), 24, 64), network_key(ip("192.0.2.200"), 24, 64));
        assert_eq!(client_key(ip("::ffff:192.0.2.9")), [192, 0, 2, 9]);
        // Not mapped: the IPv4-compatible form and NAT64 stay IPv6.
        assert_eq!(client_key(ip("::192.0.2.9")).len(), 16);
        assert_eq!(network_key(ip("64:ff9b::192.0.2.9"), 24, 64).len(), 8);
    }

    #[test]
    fn client_keys_are_whole_addresses() {
        assert_eq!(client_key(ip("192.0.2.9")), [192, 0, 2, 9]);
        assert_ne!(client_key(ip("192.0.2.9")), client_key(ip("192.0.2.10")));
        assert_eq!(client_key(ip("2001:db8::1")).len(), 16);
    }

    #[test]
    fn sender_case_and_extensions() {
        assert_eq!(normalize_sender("Bob@Example.ORG"), "bob@example.org");
        assert_eq!(normalize_sender("bob+lists@example.org"), "bob@example.org");
        assert_eq!(normalize_sender("bob+a+b@example.org"), "bob@example.org");
        assert_eq!(
            normalize_sender("owner-list+bob=example.org@lists.example.net"),
            "owner-list@lists.example.net",
            "the VERP of Sympa and friends lives in the extension"
        );
        assert_eq!(normalize_sender("+x@example.org"), "@example.org");
    }

    #[test]
    fn sender_numbers_become_hashes() {
        assert_eq!(normalize_sender("bounce-12345-67@lists.example.org"), "bounce-#-#@lists.example.org");
        assert_eq!(normalize_sender("123@example.org"), "#@example.org");
        assert_eq!(normalize_sender("a.1.b@example.org"), "a.#.b@example.org");
        assert_eq!(normalize_sender("1-2-3@example.org"), "#-#-#@example.org");
        // Digits inside a word are part of it: no boundary there.
        assert_eq!(normalize_sender("user123@example.org"), "user123@example.org");
        assert_eq!(normalize_sender("123abc@example.org"), "123abc@example.org");
        assert_eq!(normalize_sender("1_2@example.org"), "1_2@example.org", "_ is a word character");
        // Non-ASCII is not a word character for Perl on bytes.
        assert_eq!(normalize_sender("jörg12é@example.org"), "jörg12é@example.org");
        assert_eq!(normalize_sender("é12é@example.org"), "é#é@example.org");
        // Only the local part: the domain keeps its digits.
        assert_eq!(normalize_sender("bob@123.example.org"), "bob@123.example.org");
        // The extension goes first, so its numbers do not matter.
        assert_eq!(normalize_sender("news+2024@example.org"), "news@example.org");
    }

    #[test]
    fn sender_batv() {
        assert_eq!(normalize_sender("prvs=0123abcdef=bob@example.org"), "bob@example.org");
        assert_eq!(normalize_sender("prvs=bob=0123abcdef@example.org"), "bob@example.org", "the inverted form");
        assert_eq!(normalize_sender("prvs=4567890123=bob@example.org"), "bob@example.org");
        // Both look like tags, or neither does: the last part.
        assert_eq!(normalize_sender("prvs=0123abcdef=abcdefghij@example.org"), "abcdefghij@example.org");
        assert_eq!(normalize_sender("prvs=short=bob@example.org"), "bob@example.org");
        // The tag test is on the address as received: upper case is no tag.
        assert_eq!(normalize_sender("prvs=bob=0123ABCDEF@example.org"), "0123abcdef@example.org");
        // Not exactly three parts: left alone (then the usual rules).
        assert_eq!(normalize_sender("prvs=a=b=c@example.org"), "prvs=a=b=c@example.org");
        assert_eq!(normalize_sender("prvs=0123abcdef=@example.org"), "prvs=0123abcdef=@example.org");
        // Postgrey looks for "prvs=" as written.
        assert_eq!(normalize_sender("PRVS=0123abcdef=bob@example.org"), "prvs=0123abcdef=bob@example.org");
        // Then extension and numbers.
        assert_eq!(normalize_sender("prvs=0123abcdef=bounce-42+x@example.org"), "bounce-#@example.org");
    }

    #[test]
    fn sender_without_domain_is_only_lowercased() {
        assert_eq!(normalize_sender(""), "", "the null sender");
        assert_eq!(normalize_sender("<>"), "", "the null sender as a path");
        assert_eq!(normalize_sender("<Bob+x@Example.org>"), "bob@example.org");
        assert_eq!(normalize_sender("Post+Master-12"), "post+master-12");
        // An empty domain is still a domain for split(/@/, $addr, 2).
        assert_eq!(normalize_sender("Bob+x-1@"), "bob@");
        // Only the first @ splits.
        assert_eq!(normalize_sender("a+b@c@d"), "a@c@d");
    }

    #[test]
    fn srs_is_not_unwrapped() {
        assert_eq!(
            normalize_sender("SRS0=HhH3=2V=example.org=bob@forwarder.example"),
            "srs0=hhh3=2v=example.org=bob@forwarder.example"
        );
        assert_eq!(
            normalize_sender("SRS0=HhH3=22=example.org=bob@forwarder.example"),
            "srs0=hhh3=#=example.org=bob@forwarder.example"
        );
    }

    #[test]
    fn recipients_are_only_lowercased() {
        assert_eq!(normalize_recipient("Bob+Lists@Example.ORG"), "bob+lists@example.org");
        assert_eq!(normalize_recipient("<Bob@Example.ORG>"), "bob@example.org");
        assert_eq!(normalize_recipient("user-123@example.org"), "user-123@example.org");
        assert_eq!(normalize_recipient("JÖRG@example.org"), "jÖrg@example.org", "ASCII only, as Perl's lc on bytes");
    }

    #[test]
    fn long_addresses_are_cut_at_the_schema_limit() {
        let long = format!("{}@example.org", "é".repeat(300));
        let key = normalize_recipient(&long);
        assert_eq!(key.chars().count(), MAX_ADDRESS_CHARS);
        assert!(key.chars().all(|c| c == 'é'));
        assert_eq!(normalize_sender(&long).chars().count(), MAX_ADDRESS_CHARS);
    }
}
