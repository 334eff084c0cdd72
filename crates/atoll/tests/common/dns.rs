//! DNS for the end-to-end tests: dnsmasq with the records a test writes
//! (atoll_testkit::dnsmasq), and the `[dns]` section that points
//! `atoll serve` at it; and the stored messages' headers, read over IMAP.

use std::path::Path;
use std::process::Command;

// Not every test file writes records.
#[allow(unused_imports)]
pub use atoll_testkit::dnsmasq::{Dnsmasq, Zone};

use super::Started;

/// The `[dns]` section for a server that asks `dns` only.
pub fn dns_section(dns: &Dnsmasq) -> String {
    format!("[dns]\nnameservers = [\"{}\"]\ntimeout = \"5s\"\n", dns.addr())
}

/// The header sections of the messages in `mailbox` of `user`, read with
/// Python's imaplib over IMAPS (tests/imap_fetch.py), in UID order.
pub fn stored_headers(s: &Started, user: &str, password: &str, mailbox: &str) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/imap_fetch.py");
    let out = Command::new("python3")
        .arg(script)
        .args([&s.imaps.port().to_string(), user, password, mailbox])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "imap_fetch.py failed:\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The fields named `name` in a header section, unfolded (RFC 5322
/// §2.2.3), without the name and colon.
pub fn fields(header: &str, name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in header.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(line.trim());
            }
            continue;
        }
        out.extend(current.take());
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            current = Some(v.trim().to_string());
        }
    }
    out.extend(current);
    out
}

/// An IPv4 address of this machine outside 127.0.0.0/8, for a test client
/// whose reverse DNS comes from the test's DNS server: every resolver
/// answers "localhost" for 127.0.0.0/8 itself (RFC 6761 §6.3, RFC 6303),
/// so a loopback client never gets the test's PTR record. A client bound
/// to this address reaches the servers' 127.0.0.1 listeners and is seen
/// with it. Found as the source of the default route (no packet is sent).
pub fn outside_address() -> std::net::IpAddr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind a UDP socket");
    let found = probe.connect("192.0.2.1:9").ok().and_then(|()| probe.local_addr().ok()).map(|a| a.ip());
    match found {
        Some(ip) if !ip.is_loopback() && !ip.is_unspecified() => ip,
        _ => panic!("this test needs an IPv4 address outside 127.0.0.0/8 with a route (found {found:?})"),
    }
}
