//! Checks that go beyond types: addresses that parse, names that are sane,
//! references that point somewhere.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::load::Problem;
use crate::model::{Config, Engine};

const MIN_MESSAGE_SIZE: u64 = 1 << 10;
const MAX_MESSAGE_SIZE: u64 = 1 << 30;

pub fn validate(c: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut bad = |key: String, reason: String| out.push(Problem { key, reason });

    if !is_name(&c.node.name) {
        bad("node.name".into(), format!("{:?} is not a valid node name (letters, digits, '.', '-', '_')", c.node.name));
    }
    if c.node.roles.is_empty() {
        bad("node.roles".into(), "a node needs at least one role".into());
    }
    let mut seen = HashSet::new();
    for (i, island) in c.node.islands.iter().enumerate() {
        if !is_name(island) {
            bad(format!("node.islands[{i}]"), format!("{island:?} is not a valid island name"));
        } else if !seen.insert(island) {
            bad(format!("node.islands[{i}]"), format!("island {island:?} is listed twice"));
        }
    }
    if c.node.data_dir.as_os_str().is_empty() {
        bad("node.data_dir".into(), "must not be empty".into());
    }
    if !c.node.advertise.is_empty() && c.node.advertise.parse::<std::net::IpAddr>().is_err() {
        bad("node.advertise".into(), format!("{:?}: expected an IP address", c.node.advertise));
    }
    if c.node.heartbeat.as_secs() == 0 {
        bad("node.heartbeat".into(), "must be at least one second".into());
    }

    let url = c.directory.url.trim();
    if !url.is_empty() && Engine::of_url(url).is_none() {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or(url);
        bad(
            "directory.url".into(),
            format!("unsupported scheme {scheme:?} (expected sqlite://, postgres:// or mysql://)"),
        );
    }
    if c.directory.max_connections == 0 {
        bad("directory.max_connections".into(), "must be at least 1".into());
    }

    let seps = &c.addressing.subaddress_separators;
    if let Some(ch) = seps.chars().find(|ch| ch.is_alphanumeric() || ch.is_whitespace() || *ch == '@' || *ch == '.') {
        bad("addressing.subaddress_separators".into(), format!("{ch:?} cannot separate a sub-address"));
    }
    if c.addressing.max_alias_depth == 0 || c.addressing.max_alias_depth > 100 {
        bad("addressing.max_alias_depth".into(), "must be between 1 and 100".into());
    }

    let mut bound: Vec<(SocketAddr, String)> = Vec::new();
    for (service, addrs) in c.listen.services() {
        for (i, a) in addrs.iter().enumerate() {
            let key = format!("listen.{service}[{i}]");
            match a.parse::<SocketAddr>() {
                Ok(sa) => {
                    if let Some((_, other)) = bound.iter().find(|(b, _)| *b == sa) {
                        bad(key.clone(), format!("{a} is already used by {other}"));
                    }
                    bound.push((sa, key));
                }
                Err(_) => bad(key, format!("{a:?} is not an address:port (write IPv6 as \"[::1]:143\")")),
            }
        }
    }

    // The message is held in memory while it arrives.
    if !(MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&c.lmtp.max_message_size) {
        bad("lmtp.max_message_size".into(), "must be between 1K and 1G".into());
    }
    if c.lmtp.max_recipients == 0 {
        bad("lmtp.max_recipients".into(), "must be at least 1".into());
    }
    if c.lmtp.timeout.as_secs() == 0 {
        bad("lmtp.timeout".into(), "must be at least one second".into());
    }
    if !(MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&c.mx.max_message_size) {
        bad("mx.max_message_size".into(), "must be between 1K and 1G".into());
    }
    // RFC 5321 §4.5.3.1.8: a server must take at least 100 recipients.
    if c.mx.max_recipients < 100 {
        bad("mx.max_recipients".into(), "must be at least 100 (RFC 5321 section 4.5.3.1.8)".into());
    }
    if c.mx.timeout.as_secs() == 0 {
        bad("mx.timeout".into(), "must be at least one second".into());
    }
    let auth = &c.mx.authentication;
    if auth.dmarc && !(auth.spf && auth.dkim) {
        bad("mx.authentication.dmarc".into(), "needs spf and dkim (DMARC is decided on their results)".into());
    }
    if !["reject", "record"].contains(&auth.dmarc_reject.as_str()) {
        bad("mx.authentication.dmarc_reject".into(), format!("{:?}: expected reject or record", auth.dmarc_reject));
    }
    if !["junk", "record"].contains(&auth.dmarc_quarantine.as_str()) {
        bad(
            "mx.authentication.dmarc_quarantine".into(),
            format!("{:?}: expected junk or record", auth.dmarc_quarantine),
        );
    }
    if let Err(e) = c.dns.nameserver_addrs() {
        bad("dns.nameservers".into(), e);
    }
    if c.dns.timeout.is_zero() || c.dns.timeout > std::time::Duration::from_secs(60) {
        bad("dns.timeout".into(), "must be more than zero and at most 1m".into());
    }
    if !["tag", "junk", "reject"].contains(&c.filters.spam.as_str()) {
        bad("filters.spam".into(), format!("{:?}: expected tag, junk or reject", c.filters.spam));
    }
    if !["reject", "reject-550"].contains(&c.filters.virus.as_str()) {
        bad("filters.virus".into(), format!("{:?}: expected reject or reject-550", c.filters.virus));
    }
    for (i, s) in c.filters.scanner.iter().enumerate() {
        let key = |k: &str| format!("filters.scanner[{i}].{k}");
        if !["spamd", "clamd", "rspamd"].contains(&s.kind.as_str()) {
            bad(key("kind"), format!("{:?}: expected spamd, clamd or rspamd", s.kind));
        }
        if s.address.trim().is_empty() {
            bad(key("address"), "missing: host:port or the path of a unix socket".into());
        }
        if !["tempfail", "accept"].contains(&s.on_failure.as_str()) {
            bad(key("on_failure"), format!("{:?}: expected tempfail or accept", s.on_failure));
        }
        if s.timeout.is_zero() {
            bad(key("timeout"), "must be more than zero".into());
        }
    }
    if !(MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&c.submission.max_message_size) {
        bad("submission.max_message_size".into(), "must be between 1K and 1G".into());
    }
    // RFC 5321 §4.5.3.1.8 holds for submission too.
    if c.submission.max_recipients < 100 {
        bad("submission.max_recipients".into(), "must be at least 100 (RFC 5321 section 4.5.3.1.8)".into());
    }
    if c.submission.timeout.as_secs() == 0 {
        bad("submission.timeout".into(), "must be at least one second".into());
    }
    if c.queue.workers == 0 {
        bad("queue.workers".into(), "must be at least 1".into());
    }
    if c.queue.retry_initial.as_secs() == 0 || c.queue.retry_max < c.queue.retry_initial {
        bad("queue.retry_initial".into(), "must be at least one second and at most queue.retry_max".into());
    }
    if !c.outbound.relay.is_empty()
        && !c
            .outbound
            .relay
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
    {
        bad("outbound.relay".into(), format!("{:?}: expected host:port", c.outbound.relay));
    }
    if c.outbound.port == 0 {
        bad("outbound.port".into(), "must be a port number".into());
    }
    if c.outbound.per_destination == 0 || c.outbound.max_connections < c.outbound.per_destination {
        bad("outbound.per_destination".into(), "must be at least 1 and at most outbound.max_connections".into());
    }
    if c.outbound.connect_timeout.is_zero() || c.outbound.command_timeout.is_zero() {
        bad("outbound.connect_timeout".into(), "timeouts must be more than zero".into());
    }

    // RFC 9051 §2.2: a line may be long (a UID set of a big mailbox); below
    // 1K even ordinary commands would not fit.
    if !(1024..=16 << 20).contains(&c.imap.max_line_length) {
        bad("imap.max_line_length".into(), "must be between 1K and 16M".into());
    }
    if !(MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&c.imap.max_message_size) {
        bad("imap.max_message_size".into(), "must be between 1K and 1G".into());
    }
    // RFC 9051 §5.4: the autologout timer is at least 30 minutes.
    if c.imap.idle_timeout < std::time::Duration::from_secs(30 * 60) {
        bad("imap.idle_timeout".into(), "must be at least 30m (RFC 9051 §5.4)".into());
    }
    if c.imap.auth_failure_delay > std::time::Duration::from_secs(60) {
        bad("imap.auth_failure_delay".into(), "must be at most 1m".into());
    }
    // RFC 2449 §4: command lines of up to 255 octets must fit.
    if !(256..=64 << 10).contains(&c.pop3.max_line_length) {
        bad("pop3.max_line_length".into(), "must be between 256 and 64K (RFC 2449 §4)".into());
    }
    // RFC 1939 §3: the inactivity autologout timer is at least 10 minutes.
    if c.pop3.idle_timeout < std::time::Duration::from_secs(10 * 60) {
        bad("pop3.idle_timeout".into(), "must be at least 10m (RFC 1939 §3)".into());
    }
    if c.pop3.auth_failure_delay > std::time::Duration::from_secs(60) {
        bad("pop3.auth_failure_delay".into(), "must be at most 1m".into());
    }
    if c.store.gc_interval < std::time::Duration::from_secs(60) {
        bad("store.gc_interval".into(), "must be at least 1m".into());
    }
    match (&c.tls.certificate, &c.tls.key) {
        (Some(_), None) => bad("tls.key".into(), "is required when tls.certificate is set".into()),
        (None, Some(_)) => bad("tls.certificate".into(), "is required when tls.key is set".into()),
        (Some(cert), Some(key)) => {
            for (name, path) in [("tls.certificate", cert), ("tls.key", key)] {
                if let Err(e) = std::fs::metadata(path) {
                    bad(name.into(), format!("{}: {e}", path.display()));
                }
            }
        }
        (None, None) => {}
    }

    if tracing_level_ok(&c.log.level).is_err() {
        bad("log.level".into(), format!("{:?} is not a log filter (try \"info\" or \"debug\")", c.log.level));
    }
    out
}

/// Names of nodes and islands appear in logs, URLs and the directory; keep
/// them to a conservative character set.
pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn tracing_level_ok(level: &str) -> Result<(), ()> {
    // A filter is comma-separated `target=level` or `level` directives.
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let lvl = directive.rsplit_once('=').map(|(_, l)| l).unwrap_or(directive);
        if !LEVELS.contains(&lvl.to_ascii_lowercase().as_str()) {
            return Err(());
        }
    }
    if level.trim().is_empty() { Err(()) } else { Ok(()) }
}
