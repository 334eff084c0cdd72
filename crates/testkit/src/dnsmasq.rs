//! A real DNS server for tests: dnsmasq (Debian's `dnsmasq-base`, which
//! scripts/setup installs), started on a free loopback port with exactly
//! the records a test writes and nothing else: no upstream servers
//! (`--no-resolv`), no /etc/hosts (`--no-hosts`), and every other name
//! answered NXDOMAIN (`--local=/#/`). It listens on UDP and TCP and is
//! killed when the [`Dnsmasq`] is dropped.
//!
//! ```ignore
//! let mut zone = Zone::new();
//! zone.a("mx1.example.com", "127.0.0.5")
//!     .ptr("127.0.0.5", "mx1.example.com")
//!     .txt("example.com", &["v=spf1 ip4:127.0.0.0/8 -all"]);
//! let Some(dns) = zone.start() else { return }; // dnsmasq missing, not in CI
//! // dns.addr() is the server's 127.0.0.1:port
//! ```
//!
//! One dnsmasq rule to know: `a`/`aaaa` (dnsmasq's `host-record`) also
//! publish the PTR record of the address, pointing back to the name,
//! unless the test wrote a PTR for that address itself.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The records a test DNS server answers with.
#[derive(Debug, Default, Clone)]
pub struct Zone {
    lines: Vec<String>,
}

impl Zone {
    pub fn new() -> Zone {
        Zone::default()
    }

    /// An A record (and the PTR back, see the module notes).
    pub fn a(&mut self, name: &str, ip: &str) -> &mut Zone {
        let ip: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip:?} is not an address"));
        assert!(ip.is_ipv4(), "a(): {ip} is not IPv4");
        self.line(format!("host-record={},{ip}", domain(name)))
    }

    /// An AAAA record (and the PTR back, see the module notes).
    pub fn aaaa(&mut self, name: &str, ip: &str) -> &mut Zone {
        let ip: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip:?} is not an address"));
        assert!(ip.is_ipv6(), "aaaa(): {ip} is not IPv6");
        self.line(format!("host-record={},{ip}", domain(name)))
    }

    /// An MX record: mail for `domain` goes to `host`.
    pub fn mx(&mut self, domain_name: &str, preference: u16, host: &str) -> &mut Zone {
        self.line(format!("mx-host={},{},{preference}", domain(domain_name), domain(host)))
    }

    /// A "null MX" (RFC 7505): preference 0, exchange ".". Written as raw
    /// record data, as dnsmasq's mx-host wants a host name.
    pub fn null_mx(&mut self, domain_name: &str) -> &mut Zone {
        self.line(format!("dns-rr={},15,000000", domain(domain_name)))
    }

    /// One TXT record made of `strings` (each at most 255 octets, RFC 1035
    /// §3.3.14; a long DKIM key is several).
    pub fn txt(&mut self, name: &str, strings: &[&str]) -> &mut Zone {
        let mut line = format!("txt-record={}", domain(name));
        for s in strings {
            assert!(s.len() <= 255, "a TXT string is at most 255 octets: {s:?}");
            assert!(
                !s.contains(['"', '\\', '\n', '\r']),
                "TXT strings here cannot hold quotes, backslashes or line breaks"
            );
            write!(line, ",\"{s}\"").expect("write to a String");
        }
        self.line(line)
    }

    /// A PTR record: the reverse name of `ip` points to `name`.
    pub fn ptr(&mut self, ip: &str, name: &str) -> &mut Zone {
        let ip: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip:?} is not an address"));
        self.line(format!("ptr-record={},{}", reverse_name(ip), domain(name)))
    }

    fn line(&mut self, line: String) -> &mut Zone {
        self.lines.push(line);
        self
    }

    /// The configuration file dnsmasq reads (for a test's failure message).
    pub fn config(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }

    /// Starts dnsmasq with these records. None when dnsmasq is not
    /// installed and this is not CI; in CI (CI=true or
    /// ATOLL_TEST_REQUIRE_ENGINES=1) a missing dnsmasq fails the test.
    pub fn start(&self) -> Option<Dnsmasq> {
        if find_dnsmasq().is_none() {
            return crate::program_missing("dnsmasq (Debian package dnsmasq-base)");
        }
        self.try_start()
    }

    /// Starts dnsmasq with these records, or None when it is not
    /// installed, for a caller that has something else to fall back on.
    pub fn try_start(&self) -> Option<Dnsmasq> {
        let binary = find_dnsmasq()?;
        let dir = tempfile::Builder::new().prefix("atoll-dnsmasq-").tempdir().expect("temporary directory");
        let config = dir.path().join("dnsmasq.conf");
        std::fs::write(&config, self.config()).expect("write dnsmasq.conf");
        for attempt in 0..5 {
            let port = free_udp_and_tcp_port();
            let log = dir.path().join(format!("dnsmasq-{port}.log"));
            let child = spawn(&binary, &config, port, &log);
            let mut server = Dnsmasq { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), log, _dir: None };
            match server.wait_ready() {
                Ok(()) => {
                    server._dir = Some(dir);
                    return Some(server);
                }
                // Another process took the port between choosing and binding.
                Err(log) if log.contains("Address already in use") && attempt < 4 => continue,
                Err(log) => panic!("dnsmasq did not start:\n{log}\nconfiguration:\n{}", self.config()),
            }
        }
        unreachable!("the loop returns or panics")
    }
}

/// A running dnsmasq; killed and reaped on drop.
pub struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Dnsmasq {
    /// Where it listens, UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What dnsmasq logged: its start and every query (`--log-queries`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until it answers a query; on failure returns its log.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
        socket.set_read_timeout(Some(Duration::from_millis(100))).expect("set a read timeout");
        let query = probe_query();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("dnsmasq exited with {status}:\n{}", self.log()));
            }
            if socket.send_to(&query, self.addr).is_ok() {
                let mut buf = [0u8; 512];
                if let Ok((n, _)) = socket.recv_from(&mut buf)
                    && n >= 2
                    && buf[..2] == query[..2]
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("dnsmasq did not answer within 10 s:\n{}", self.log()));
            }
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(binary: &Path, config: &Path, port: u16, log: &Path) -> Child {
    let log_file = std::fs::File::create(log).expect("create the dnsmasq log");
    let mut cmd = Command::new(binary);
    cmd.arg("--keep-in-foreground")
        .arg("--no-resolv")
        .arg("--no-hosts")
        .arg("--no-poll")
        // Only what the test wrote: everything else does not exist.
        .arg("--local=/#/")
        .arg(format!("--conf-file={}", config.display()))
        .arg("--pid-file=")
        .arg(format!("--port={port}"))
        .arg("--listen-address=127.0.0.1")
        .arg("--bind-interfaces")
        .arg("--log-queries")
        .arg("--log-facility=-")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file);
    cmd.spawn().unwrap_or_else(|e| panic!("start {}: {e}", binary.display()))
}

/// dnsmasq on PATH, or in /usr/sbin (not on a normal user's PATH).
fn find_dnsmasq() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("dnsmasq")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/sbin/dnsmasq")]).find(|p| p.is_file())
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_udp_and_tcp_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
        let port = udp.local_addr().expect("local address").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A query for the A record of "ready.invalid" with a random id.
fn probe_query() -> Vec<u8> {
    let id = (std::process::id() as u16) ^ (Instant::now().elapsed().subsec_nanos() as u16);
    let mut q = Vec::with_capacity(32);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ["ready", "invalid"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// A domain name as dnsmasq's configuration takes it.
fn domain(name: &str) -> String {
    let name = name.trim_end_matches('.');
    assert!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
        "{name:?} is not a domain name this harness writes"
    );
    name.to_string()
}

/// The in-addr.arpa / ip6.arpa name of an address (RFC 1035 §3.5,
/// RFC 3596 §2.5).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for byte in v6.octets().iter().rev() {
                write!(s, "{:x}.{:x}.", byte & 0xf, byte >> 4).expect("write to a String");
            }
            s + "ip6.arpa"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(reverse_name("192.0.2.7".parse().unwrap()), "7.2.0.192.in-addr.arpa");
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.0.0.0.0."), "{v6}");
        assert!(v6.ends_with("8.b.d.0.1.0.0.2.ip6.arpa"), "{v6}");
    }

    #[test]
    fn records_become_configuration_lines() {
        let mut z = Zone::new();
        z.a("mx1.example.com.", "127.0.0.5")
            .mx("example.com", 10, "mx1.example.com")
            .null_mx("example.net")
            .txt("sel._domainkey.example.com", &["v=DKIM1; k=ed25519;", " p=abc"])
            .ptr("127.0.0.5", "mx1.example.com");
        assert_eq!(
            z.config(),
            "host-record=mx1.example.com,127.0.0.5\nmx-host=example.com,mx1.example.com,10\n\
             dns-rr=example.net,15,000000\ntxt-record=sel._domainkey.example.com,\"v=DKIM1; k=ed25519;\",\" p=abc\"\n\
             ptr-record=5.0.0.127.in-addr.arpa,mx1.example.com\n"
        );
    }
}
