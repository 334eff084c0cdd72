//! The configuration's shape and its defaults.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub node: Node,
    pub directory: Directory,
    pub addressing: Addressing,
    pub passwords: Passwords,
    pub listen: Listen,
    pub lmtp: Lmtp,
    pub mx: Mx,
    pub submission: Submission,
    pub dns: Dns,
    pub queue: Queue,
    pub outbound: Outbound,
    pub filters: Filters,
    pub greylist: Greylist,
    pub imap: Imap,
    pub pop3: Pop3,
    pub store: Store,
    pub tls: Tls,
    pub log: Log,
}

/// What this process is and does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Node {
    /// Name under which the node registers in the directory; unique in a cluster.
    pub name: String,
    pub roles: Vec<Role>,
    /// Islands whose mail this node stores and serves (store role).
    pub islands: Vec<String>,
    /// Where the embedded default keeps its files.
    pub data_dir: PathBuf,
    /// How often the node tells the directory it is alive.
    #[serde(with = "crate::duration")]
    pub heartbeat: Duration,
    /// The IP address other nodes reach this one at, registered in place of
    /// a wildcard listening address (0.0.0.0, ::); empty: none (other
    /// nodes then cannot hand mail to such a listener).
    pub advertise: String,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            name: default_node_name(),
            roles: Role::ALL.to_vec(),
            islands: vec!["default".to_string()],
            data_dir: PathBuf::from("atoll-data"),
            heartbeat: Duration::from_secs(10),
            advertise: String::new(),
        }
    }
}

fn default_node_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "atoll".to_string())
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Mx,
    Submission,
    Store,
    Proxy,
    Web,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Mx, Role::Submission, Role::Store, Role::Proxy, Role::Web];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mx => "mx",
            Role::Submission => "submission",
            Role::Store => "store",
            Role::Proxy => "proxy",
            Role::Web => "web",
        }
    }
}

/// The directory database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Directory {
    /// `sqlite://PATH`, `postgres://…` or `mysql://…` (MariaDB and Galera too).
    /// Empty means `sqlite://<data_dir>/directory.db`.
    pub url: String,
    pub max_connections: u32,
    /// How long a resolved address may be answered from memory. Other nodes'
    /// changes become visible after at most this long.
    #[serde(with = "crate::duration")]
    pub cache_ttl: Duration,
    /// How many resolved addresses are kept in memory.
    pub cache_capacity: u64,
}

impl Default for Directory {
    fn default() -> Self {
        Directory {
            url: String::new(),
            max_connections: 8,
            cache_ttl: Duration::from_secs(30),
            cache_capacity: 100_000,
        }
    }
}

/// How recipient addresses are interpreted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Addressing {
    /// Characters that start a sub-address ("detail"): with "+", `bob+lists@`
    /// reaches `bob@`. Several characters may be given, e.g. "+-". Empty
    /// turns sub-addressing off.
    pub subaddress_separators: String,
    /// How many aliases may be followed from one recipient before giving up.
    pub max_alias_depth: u32,
}

impl Default for Addressing {
    fn default() -> Self {
        Addressing { subaddress_separators: "+".to_string(), max_alias_depth: 10 }
    }
}

/// Password verification policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Passwords {
    /// Accept `{PLAIN}` hashes imported from another system.
    pub allow_plain: bool,
    /// Replace an imported hash by argon2id after a successful login.
    pub rehash_on_login: bool,
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords { allow_plain: false, rehash_on_login: true }
    }
}

/// Listening addresses per service; the defaults are the embedded ones
/// (loopback, unprivileged ports).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Listen {
    pub smtp: Vec<String>,
    pub submission: Vec<String>,
    pub submissions: Vec<String>,
    pub lmtp: Vec<String>,
    pub imap: Vec<String>,
    pub imaps: Vec<String>,
    pub pop3: Vec<String>,
    pub pop3s: Vec<String>,
    pub managesieve: Vec<String>,
    pub http: Vec<String>,
}

fn loopback(port: u16) -> Vec<String> {
    vec![format!("127.0.0.1:{port}"), format!("[::1]:{port}")]
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            smtp: loopback(2525),
            submission: loopback(2587),
            submissions: loopback(2465),
            lmtp: loopback(2424),
            imap: loopback(2143),
            imaps: loopback(2993),
            pop3: loopback(2110),
            pop3s: loopback(2995),
            managesieve: loopback(4190),
            http: loopback(8080),
        }
    }
}

impl Listen {
    /// Every service with its addresses, for validation and start-up.
    pub fn services(&self) -> [(&'static str, &Vec<String>); 10] {
        [
            ("smtp", &self.smtp),
            ("submission", &self.submission),
            ("submissions", &self.submissions),
            ("lmtp", &self.lmtp),
            ("imap", &self.imap),
            ("imaps", &self.imaps),
            ("pop3", &self.pop3),
            ("pop3s", &self.pop3s),
            ("managesieve", &self.managesieve),
            ("http", &self.http),
        ]
    }
}

/// The LMTP server of the `store` role (final delivery into the islands).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Lmtp {
    /// Largest message accepted, in bytes ("50M", "1G" or a number),
    /// announced as SIZE. A message is held in memory while it arrives.
    #[serde(with = "crate::size")]
    pub max_message_size: u64,
    /// Recipients per transaction; the client sends the rest in another.
    pub max_recipients: u32,
    /// How long a client may stay silent before the connection is closed.
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
}

impl Default for Lmtp {
    fn default() -> Self {
        Lmtp { max_message_size: 50 << 20, max_recipients: 1000, timeout: Duration::from_secs(300) }
    }
}

/// The inbound MX (`mx` role): SMTP from the internet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Mx {
    /// Largest message accepted, in bytes ("50M"), announced as SIZE.
    #[serde(with = "crate::size")]
    pub max_message_size: u64,
    /// Recipients per message; the client sends the rest in another.
    /// RFC 5321 §4.5.3.1.8 asks for at least 100.
    pub max_recipients: u32,
    /// How long a client may stay silent (RFC 5321 §4.5.3.2.7: 5 minutes).
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
    /// Open connections from one client address; 0 for no limit.
    pub max_connections_per_ip: u32,
    /// Reverse DNS, SPF, DKIM and DMARC: `[mx.authentication]`.
    pub authentication: MxAuthentication,
}

impl Default for Mx {
    fn default() -> Self {
        Mx {
            max_message_size: 50 << 20,
            max_recipients: 1000,
            timeout: Duration::from_secs(300),
            max_connections_per_ip: 20,
            authentication: MxAuthentication::default(),
        }
    }
}

/// Message submission (`submission` role, RFC 6409): the platform's users
/// sending mail, on `listen.submission` (STARTTLS) and
/// `listen.submissions` (implicit TLS).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Submission {
    #[serde(with = "crate::size")]
    pub max_message_size: u64,
    pub max_recipients: u32,
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
    /// Recipients one user may send to per hour; 0 for no limit.
    pub rate_limit: u32,
    /// Passwords before STARTTLS; for tests and trusted networks only.
    pub allow_plaintext_auth: bool,
    /// The wait before answering a failed AUTH.
    #[serde(with = "crate::duration")]
    pub auth_failure_delay: Duration,
    /// Store a copy of every sent message in the sender's Sent mailbox.
    pub save_sent: bool,
}

impl Default for Submission {
    fn default() -> Self {
        Submission {
            max_message_size: 50 << 20,
            max_recipients: 100,
            timeout: Duration::from_secs(300),
            rate_limit: 500,
            allow_plaintext_auth: false,
            auth_failure_delay: Duration::from_secs(2),
            save_sent: false,
        }
    }
}

/// What the MX checks about where a message comes from, reported in an
/// Authentication-Results header (RFC 8601). Every check is on by default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MxAuthentication {
    /// The client's forward-confirmed reverse DNS name, looked up once per
    /// connection (iprev); also what greylisting's host-name entries and
    /// the Received line see.
    pub iprev: bool,
    /// SPF (RFC 7208) for MAIL FROM, or for HELO when MAIL FROM is `<>`.
    pub spf: bool,
    /// DKIM (RFC 6376), every signature.
    pub dkim: bool,
    /// DMARC (RFC 7489) for the From domain; needs `spf` and `dkim`.
    pub dmarc: bool,
    /// A DMARC failure under the domain's `p=reject`: "reject" (550 5.7.1
    /// at the end of DATA, RFC 7489 §6.7) or "record" (header only).
    pub dmarc_reject: String,
    /// A DMARC failure under `p=quarantine`: "junk" (filed into the
    /// recipients' Junk mailbox) or "record".
    pub dmarc_quarantine: String,
}

impl Default for MxAuthentication {
    fn default() -> Self {
        MxAuthentication {
            iprev: true,
            spf: true,
            dkim: true,
            dmarc: true,
            dmarc_reject: "reject".into(),
            dmarc_quarantine: "junk".into(),
        }
    }
}

/// The node's DNS resolver, used by the MX's checks and by delivery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Dns {
    /// Recursive name servers, `"192.0.2.53"` (port 53) or
    /// `"127.0.0.1:5353"`, `"[2001:db8::53]:53"`. Empty: the servers in
    /// the system's /etc/resolv.conf.
    pub nameservers: Vec<String>,
    /// How long one query may take before it counts as failed.
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
}

impl Default for Dns {
    fn default() -> Self {
        Dns { nameservers: Vec::new(), timeout: Duration::from_secs(5) }
    }
}

impl Dns {
    /// The name servers as socket addresses (port 53 when none is given).
    pub fn nameserver_addrs(&self) -> Result<Vec<std::net::SocketAddr>, String> {
        self.nameservers
            .iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<std::net::SocketAddr>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
                    .map_err(|_| {
                        format!("{s:?} is not an address or address:port (write IPv6 with a port as \"[::1]:53\")")
                    })
            })
            .collect()
    }
}

/// Greylisting at the MX (the Postgrey algorithm, RFC 6647), state shared
/// by every MX node through the directory. Off unless turned on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Greylist {
    pub enabled: bool,
    /// A retry is let through this long after the first attempt.
    #[serde(with = "crate::duration")]
    pub delay: Duration,
    /// A triplet or a client not seen for this long is forgotten.
    #[serde(with = "crate::duration")]
    pub max_age: Duration,
    /// How long after the first attempt a retry still counts.
    #[serde(with = "crate::duration")]
    pub retry_window: Duration,
    /// Whitelist a client address after this many passed triplets (0: off).
    pub auto_whitelist_clients: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// The 451 4.7.1 text; `%s` is the seconds left, `%r` the domain.
    pub message: String,
    /// Addresses, networks, host names or domains, `/regex/` on host names.
    pub whitelist_clients: Vec<String>,
    /// `user@domain`, `user@`, domains, `/regex/`.
    pub whitelist_recipients: Vec<String>,
}

impl Default for Greylist {
    fn default() -> Self {
        Greylist {
            enabled: false,
            delay: Duration::from_secs(300),
            max_age: Duration::from_secs(35 * 86_400),
            retry_window: Duration::from_secs(2 * 86_400),
            auto_whitelist_clients: 5,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
            message: "greylisted, please try again later".into(),
            whitelist_clients: Vec::new(),
            whitelist_recipients: Vec::new(),
        }
    }
}

/// Content filters the MX asks after DATA, before it answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Filters {
    /// What spam leads to: "tag" (X-Spam-* headers), "junk" (tagged and
    /// filed into Junk) or "reject" (550 5.7.1).
    pub spam: String,
    /// What a virus leads to: "reject" (554 5.7.1) or "reject-550".
    pub virus: String,
    /// The scanners, asked at once: `[[filters.scanner]]` tables.
    pub scanner: Vec<Scanner>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters { spam: "tag".into(), virus: "reject".into(), scanner: Vec::new() }
    }
}

/// One content scanner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Scanner {
    /// "spamd" (SpamAssassin), "clamd" (ClamAV) or "rspamd".
    pub kind: String,
    /// `host:port`, or the path of a unix socket.
    pub address: String,
    /// The whole check must end within this.
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
    /// Larger messages are not sent to this scanner (0: the scanner's
    /// default, 500K for spamd, 25M for clamd, 20M for rspamd).
    #[serde(with = "crate::size")]
    pub max_size: u64,
    /// When the scanner is down or fails: "tempfail" (451 4.7.1, the
    /// sender retries) or "accept".
    pub on_failure: String,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            kind: String::new(),
            address: String::new(),
            timeout: Duration::from_secs(30),
            max_size: 0,
            on_failure: "tempfail".into(),
        }
    }
}

/// The node's queue: accepted mail on its way into the islands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Queue {
    /// Deliveries under way at once; each takes every message that is
    /// ready (up to 64) into one batch per island.
    pub workers: u32,
    /// First delay after a failed delivery; it doubles up to `retry_max`.
    #[serde(with = "crate::duration")]
    pub retry_initial: Duration,
    #[serde(with = "crate::duration")]
    pub retry_max: Duration,
    /// After this long a recipient that still cannot be delivered is given
    /// up on, and the sender gets a bounce.
    #[serde(with = "crate::duration")]
    pub give_up_after: Duration,
    /// The sender of a message still not delivered after this long gets a
    /// delay warning, once; "0s" for none.
    #[serde(with = "crate::duration")]
    pub delay_warning: Duration,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            workers: 4,
            retry_initial: Duration::from_secs(300),
            retry_max: Duration::from_secs(4 * 3600),
            give_up_after: Duration::from_secs(5 * 86_400),
            delay_warning: Duration::from_secs(4 * 3600),
        }
    }
}

/// Mail to other domains (forwards, outside list members, bounces to
/// outside senders): SMTP to each domain's MX hosts, or to a relay host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Outbound {
    /// Send everything through this host ("host:port") instead of looking
    /// up MX records; empty for direct delivery.
    pub relay: String,
    /// The port of other domains' MX hosts.
    pub port: u16,
    /// Connections to one destination domain at once.
    pub per_destination: u32,
    /// Outbound connections at once, in total.
    pub max_connections: u32,
    #[serde(with = "crate::duration")]
    pub connect_timeout: Duration,
    /// The wait for each reply; RFC 5321 §4.5.3.2 asks for 5 minutes (10
    /// for the end of the data, which is twice this).
    #[serde(with = "crate::duration")]
    pub command_timeout: Duration,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            relay: String::new(),
            port: 25,
            per_destination: 20,
            max_connections: 100,
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(300),
        }
    }
}

/// The IMAP server of the `store` role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Imap {
    /// Longest command line, literals not counted.
    #[serde(with = "crate::size")]
    pub max_line_length: u64,
    /// Largest APPEND, announced as APPENDLIMIT (RFC 7889). A larger
    /// literal is refused before it is sent.
    #[serde(with = "crate::size")]
    pub max_message_size: u64,
    /// How long an authenticated session may stay silent, IDLE included.
    /// RFC 9051 §5.4 asks for at least 30 minutes.
    #[serde(with = "crate::duration")]
    pub idle_timeout: Duration,
    /// Allow LOGIN and AUTHENTICATE PLAIN without TLS. Off: passwords are
    /// refused on cleartext connections ([PRIVACYREQUIRED]); turn it on only
    /// behind a proxy that terminated TLS or on loopback tests.
    pub allow_plaintext_auth: bool,
    /// How long a failed login waits before its answer, to slow guessing.
    #[serde(with = "crate::duration")]
    pub auth_failure_delay: Duration,
}

impl Default for Imap {
    fn default() -> Self {
        Imap {
            max_line_length: 64 << 10,
            max_message_size: 50 << 20,
            idle_timeout: Duration::from_secs(30 * 60),
            allow_plaintext_auth: false,
            auth_failure_delay: Duration::from_secs(2),
        }
    }
}

/// The POP3 server of the `store` role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Pop3 {
    /// Longest command line. RFC 2449 §4 allows 255 octets; a SASL
    /// response with a long password may need more.
    #[serde(with = "crate::size")]
    pub max_line_length: u64,
    /// How long a session may stay silent. RFC 1939 §3 asks for at least
    /// 10 minutes.
    #[serde(with = "crate::duration")]
    pub idle_timeout: Duration,
    /// Allow USER/PASS and AUTH without TLS. Off: passwords are refused on
    /// cleartext connections; turn it on only behind a proxy that
    /// terminated TLS or on loopback tests.
    pub allow_plaintext_auth: bool,
    /// How long a failed login waits before its answer, to slow guessing.
    #[serde(with = "crate::duration")]
    pub auth_failure_delay: Duration,
    /// Mark the messages a session downloaded with RETR \Seen when it
    /// ends with QUIT, as Dovecot does unless `pop3_no_flag_updates` is
    /// set. TOP never marks.
    pub mark_seen: bool,
}

impl Default for Pop3 {
    fn default() -> Self {
        Pop3 {
            max_line_length: 4 << 10,
            idle_timeout: Duration::from_secs(10 * 60),
            allow_plaintext_auth: false,
            auth_failure_delay: Duration::from_secs(2),
            mark_seen: true,
        }
    }
}

/// Housekeeping of the islands this node stores (store role).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Store {
    /// How often unused message bodies are looked for and removed.
    #[serde(with = "crate::duration")]
    pub gc_interval: Duration,
    /// How long a body must have been unused (its last message expunged)
    /// before it is removed.
    #[serde(with = "crate::duration")]
    pub gc_grace: Duration,
}

impl Default for Store {
    fn default() -> Self {
        Store { gc_interval: Duration::from_secs(3600), gc_grace: Duration::from_secs(3600) }
    }
}

/// The certificate every TLS listener presents. With neither set, a
/// self-signed certificate is made under `<data_dir>/tls` at first start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Tls {
    /// PEM file: the certificate chain, leaf first.
    pub certificate: Option<PathBuf>,
    /// PEM file: the private key.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Log {
    /// A tracing filter: "info", "debug", "atoll_directory=debug,info".
    pub level: String,
    pub format: LogFormat,
}

impl Default for Log {
    fn default() -> Self {
        Log { level: "info".to_string(), format: LogFormat::Text }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Which SQL engine a directory URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

impl Engine {
    pub fn of_url(url: &str) -> Option<Engine> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Engine::Sqlite),
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            _ => None,
        }
    }
}

impl Config {
    /// The directory URL with the embedded default filled in. `mariadb://` is
    /// accepted as a synonym of `mysql://`, which is what the driver speaks.
    pub fn directory_url(&self) -> String {
        let url = self.directory.url.trim();
        if url.is_empty() {
            let path = self.node.data_dir.join("directory.db");
            return format!("sqlite://{}?mode=rwc", path.display());
        }
        match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                format!("mysql://{rest}")
            }
            _ => url.to_string(),
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.node.roles.contains(&role)
    }
}
