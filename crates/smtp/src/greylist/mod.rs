//! Greylisting for the inbound MX: the Postgrey algorithm (Postgrey 1.37,
//! the one CalMail ran in SQL), with its state in the directory so that
//! every MX node shares it.
//!
//! Greylisting (RFC 6647) answers the first delivery attempt of an unknown
//! (client network, sender, recipient) triplet with a temporary failure. A
//! real MTA queues the message and retries; much bulk-sending software does
//! not. A retry that comes after `delay` and within `retry_window` is let
//! through, and the triplet then passes at once for as long as mail keeps
//! coming (RFC 6647 §2.2, §4).
//!
//! The MX session calls [`Greylist::check`] at RCPT TO with the client's
//! address, its verified reverse DNS name, the envelope sender and the
//! recipient. On [`Decision::Defer`] it answers `451 4.7.1` with
//! [`Greylist::defer_text`]; on [`Decision::Pass`] it goes on with the
//! recipient. On an error (the directory cannot be reached) the session
//! decides: Postfix answers `451 4.3.5` when its policy server fails.
//! [`Greylist::cleanup`] is Postgrey's nightly maintenance; run it every
//! few hours on any node (running it on several at once is harmless).
//!
//! # The decision, step by step (Postgrey's `smtpd_access_policy`)
//!
//! 1. A client whose address or host name is on `whitelist_clients` passes;
//!    then a recipient on `whitelist_recipients` passes. Nothing is stored.
//! 2. Auto-whitelist (`auto_whitelist_clients` = N, 0 turns it off): a
//!    client *address* (Postgrey counts addresses, not networks) with N or
//!    more counted passes passes, without a triplet being stored; its entry
//!    is refreshed at most once an hour so that it does not expire.
//! 3. The triplet: the client's network (`ipv4_prefix`, `ipv6_prefix`), the
//!    sender normalised (lowercase, `+extension` cut, BATV unwrapped,
//!    numbers of VERP words replaced by `#`: see [`key`]), the recipient
//!    lowercased.
//!    - not known → defer for `delay`, recorded as first seen now;
//!    - known and it passed before → pass;
//!    - known, never passed, first seen more than `retry_window` ago (or,
//!      clocks disagreeing, in the future) → first seen again now, defer
//!      for `delay`;
//!    - known, never passed, first seen less than `delay` ago → defer for
//!      the rest of the delay (the retry after is the seconds left);
//!    - otherwise → pass. This first pass counts one for the client's
//!      auto-whitelist, unless the client was counted less than an hour
//!      ago ("only one attempt per hour counts").
//!
//!    Every attempt on a triplet updates its last-seen time.
//!
//! # Postgrey's options in atoll
//!
//! | Postgrey | atoll ([`GreylistConfig`]) | notes |
//! | --- | --- | --- |
//! | `--delay=300` | `delay` = 300 s | 0 is refused (Postgrey reads it as 300) |
//! | `--max-age=35` (days) | `max_age` = 35 days | also applied at decision time, see below |
//! | `--retry-window=2` (days, or `Nh`) | `retry_window` = 2 days | must be between `delay` and `max_age` |
//! | `--auto-whitelist-clients=5` | `auto_whitelist_clients` = 5 | 0 turns it off |
//! | `--ipv4cidr=24`, `--ipv6cidr=64` | `ipv4_prefix`, `ipv6_prefix` | |
//! | `--lookup-by-host` | `ipv4_prefix = 32`, `ipv6_prefix = 128` | |
//! | `--greylist-text` | `message` | `%s` (seconds left) and `%r` (recipient domain) are replaced |
//! | `--greylist-action` | — | the MX always answers `451 4.7.1` |
//! | `--whitelist-clients`, `--whitelist-recipients` | `whitelist_clients`, `whitelist_recipients` | the entries of Postgrey's files; [`whitelist::read_list`] reads such a file |
//! | `--privacy` | — | keys are stored as they are |
//! | `--x-greylist-header` | [`PassReason::TripletPassed`] `delayed_seconds` | the session may add the header |
//!
//! Where atoll differs, and why:
//!
//! - Postgrey removes entries older than `--max-age` only in its nightly
//!   maintenance, so until then an expired triplet still passes. Here a
//!   triplet (or an auto-whitelisted client) last seen more than `max_age`
//!   ago is treated as unknown at once: the outcome no longer depends on
//!   when cleanup last ran, or on which node.
//! - Postgrey tells a passed triplet by `last_seen - first_seen >= delay`;
//!   atoll keeps a pass count. The same under a constant `delay`, but a
//!   triplet that passed keeps passing even when another node's clock made
//!   its first-seen time look like the future (Postgrey would greylist it
//!   again), and a change of `delay` does not re-greylist known senders.
//! - Bad whitelist entries are errors, not warnings ([`whitelist`]).

pub mod key;
pub mod whitelist;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use atoll_directory::{Directory, GreylistClient};
use thiserror::Error;

pub use whitelist::{ClientWhitelist, RecipientWhitelist};

/// The auto-whitelist counts one pass of a client per hour at most
/// (Postgrey's fixed 3600 s), so a burst of mail does not whitelist it.
const AWL_INTERVAL: i64 = 3600;

/// How greylisting behaves (the MX's `[mx.greylist]` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreylistConfig {
    /// Greylist at all; when off every recipient passes.
    pub enabled: bool,
    /// How long after the first attempt of a triplet a retry is accepted
    /// (Postgrey's `--delay`, 300 s). RFC 6647 §6 notes that most MTAs
    /// retry within minutes, and that long delays hurt mail people wait
    /// for.
    pub delay: Duration,
    /// A triplet or an auto-whitelisted client not seen for this long is
    /// forgotten (Postgrey's `--max-age`, 35 days).
    pub max_age: Duration,
    /// How long after the first attempt a retry still counts (Postgrey's
    /// `--retry-window`, 2 days): a triplet that never passed and whose
    /// first attempt is older than this starts afresh. Postgrey's help says
    /// "allow only N days for the first retrial".
    pub retry_window: Duration,
    /// Whitelist a client address once this many of its triplets passed
    /// greylisting, one per hour at most (Postgrey's
    /// `--auto-whitelist-clients`, 5); 0 turns the auto-whitelist off.
    pub auto_whitelist_clients: u32,
    /// The leading bits of an IPv4 client address that make its network,
    /// so a retry from another host of the same pool meets the first
    /// attempt (Postgrey's `--ipv4cidr`, 24).
    pub ipv4_prefix: u8,
    /// The same for IPv6 (Postgrey's `--ipv6cidr`, 64).
    pub ipv6_prefix: u8,
    /// The text of the 451 4.7.1 reply; `%s` becomes the seconds left to
    /// wait and `%r` the recipient's domain (Postgrey's `--greylist-text`).
    pub message: String,
    /// Clients never greylisted: addresses, networks, host names (a domain
    /// matches the host and its subdomains) and `/regular expressions/` on
    /// the host name, one per entry as in Postgrey's `whitelist_clients`
    /// (see [`whitelist`]).
    pub whitelist_clients: Vec<String>,
    /// Recipients never greylisted: `user@domain`, `user@`, domains and
    /// `/regular expressions/`, as in Postgrey's `whitelist_recipients`.
    pub whitelist_recipients: Vec<String>,
}

impl Default for GreylistConfig {
    fn default() -> Self {
        GreylistConfig {
            enabled: true,
            delay: Duration::from_secs(300),
            max_age: Duration::from_secs(35 * 24 * 3600),
            retry_window: Duration::from_secs(2 * 24 * 3600),
            auto_whitelist_clients: 5,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
            message: "greylisted, please try again later".into(),
            whitelist_clients: Vec::new(),
            whitelist_recipients: Vec::new(),
        }
    }
}

/// What went wrong: a bad setting (named, for the operator who wrote it) or
/// the directory.
#[derive(Debug, Error)]
pub enum GreylistError {
    #[error("greylist: bad {list} entry {entry:?}: {reason}")]
    BadEntry { list: &'static str, entry: String, reason: String },
    #[error("greylist: {setting} {reason}")]
    BadSetting { setting: &'static str, reason: String },
    #[error("greylist state: {0}")]
    Directory(#[from] atoll_directory::Error),
}

/// Why a recipient was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassReason {
    /// Greylisting is turned off.
    Disabled,
    /// The client's address or host name is on `whitelist_clients`.
    WhitelistedClient,
    /// The recipient is on `whitelist_recipients`.
    WhitelistedRecipient,
    /// The client address passed greylisting often enough.
    AutoWhitelistedClient,
    /// The triplet passed greylisting. `delayed_seconds` is how long this
    /// mail waited when this attempt is the one that got through (where
    /// Postgrey adds its `X-Greylist: delayed N seconds` header), None when
    /// the triplet had passed before.
    TripletPassed { delayed_seconds: Option<u64> },
}

/// The answer to one RCPT TO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass(PassReason),
    /// Answer `451 4.7.1` with [`Greylist::defer_text`]; a retry is let
    /// through after `retry_after_seconds` (at least 1).
    Defer {
        retry_after_seconds: u64,
    },
}

/// What a cleanup removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub triplets: u64,
    pub clients: u64,
}

/// The greylisting engine: the configuration, the parsed whitelists and the
/// directory that holds the state. Cheap to clone; clones share all that.
#[derive(Clone)]
pub struct Greylist {
    inner: Arc<Inner>,
}

struct Inner {
    config: GreylistConfig,
    dir: Directory,
    clients: ClientWhitelist,
    recipients: RecipientWhitelist,
    /// The durations in seconds, as the clock (`at`) counts.
    delay: i64,
    max_age: i64,
    retry_window: i64,
}

fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn setting(setting: &'static str, reason: impl Into<String>) -> GreylistError {
    GreylistError::BadSetting { setting, reason: reason.into() }
}

/// What the stored triplet says about this attempt.
enum TripletState {
    /// It passed before: pass again.
    Passed,
    /// Unknown, expired, or its retry came too late: start afresh.
    New,
    /// Waiting since `first_seen`.
    Waiting { first_seen: i64 },
}

impl Greylist {
    /// Checks the settings and reads the whitelists; an error names the bad
    /// setting or entry.
    pub fn new(config: GreylistConfig, dir: Directory) -> Result<Greylist, GreylistError> {
        let (delay, max_age, retry_window) =
            (seconds(config.delay), seconds(config.max_age), seconds(config.retry_window));
        if delay < 1 {
            return Err(setting("delay", "must be at least 1 second (turn greylisting off with enabled = false)"));
        }
        if retry_window < delay {
            return Err(setting(
                "retry_window",
                format!("({retry_window} s) must be at least the delay ({delay} s), or no retry could ever pass"),
            ));
        }
        if max_age < retry_window {
            return Err(setting(
                "max_age",
                format!("({max_age} s) must be at least the retry window ({retry_window} s)"),
            ));
        }
        if config.ipv4_prefix > 32 {
            return Err(setting("ipv4_prefix", format!("{} is more than 32", config.ipv4_prefix)));
        }
        if config.ipv6_prefix > 128 {
            return Err(setting("ipv6_prefix", format!("{} is more than 128", config.ipv6_prefix)));
        }
        let clients = ClientWhitelist::parse(&config.whitelist_clients)?;
        let recipients = RecipientWhitelist::parse(&config.whitelist_recipients)?;
        Ok(Greylist { inner: Arc::new(Inner { config, dir, clients, recipients, delay, max_age, retry_window }) })
    }

    pub fn config(&self) -> &GreylistConfig {
        &self.inner.config
    }

    /// Decides on one recipient of a transaction. `at` is the time of the
    /// attempt in seconds since the epoch (the caller's clock, so tests
    /// can move it); `client` the connecting address; `client_hostname`
    /// its verified reverse DNS name, None when it has none; `sender` the
    /// MAIL FROM address (`""` or `"<>"` for the null sender); `recipient`
    /// the RCPT TO address.
    pub async fn check(
        &self,
        at: i64,
        client: IpAddr,
        client_hostname: Option<&str>,
        sender: &str,
        recipient: &str,
    ) -> Result<Decision, GreylistError> {
        let c = &*self.inner;
        if !c.config.enabled {
            return Ok(Decision::Pass(PassReason::Disabled));
        }
        let client = key::canonical_ip(client);
        if c.clients.matches(client, client_hostname) {
            return Ok(Decision::Pass(PassReason::WhitelistedClient));
        }
        if c.recipients.matches(recipient) {
            return Ok(Decision::Pass(PassReason::WhitelistedRecipient));
        }

        // The auto-whitelist entry is read once: it decides here, and after
        // a first pass it is what the count is compared-and-set against.
        let awl = if c.config.auto_whitelist_clients > 0 {
            let address = key::client_key(client);
            let entry = c.dir.greylist_client(&address).await?;
            if let Some(e) = entry
                && !self.expired(at, e.last_seen)
                && e.passed >= i64::from(c.config.auto_whitelist_clients)
            {
                // Refresh at most hourly (and when its time is in the
                // future: another node's clock), as Postgrey does, so a
                // client in steady use never reaches max_age.
                if at >= e.last_seen.saturating_add(AWL_INTERVAL) || e.last_seen > at {
                    c.dir.greylist_client_set(&address, e.passed + 1, at, Some(e.last_seen)).await?;
                }
                return Ok(Decision::Pass(PassReason::AutoWhitelistedClient));
            }
            Some((address, entry))
        } else {
            None
        };

        let net = key::network_key(client, c.config.ipv4_prefix, c.config.ipv6_prefix);
        let sender = key::normalize_sender(sender);
        let recipient = key::normalize_recipient(recipient);
        let state = match c.dir.greylist_get(&net, &sender, &recipient).await? {
            Some(t) if !self.expired(at, t.last_seen) => {
                if t.passed > 0 {
                    TripletState::Passed
                } else if at.saturating_sub(t.first_seen) > c.retry_window || t.first_seen > at {
                    TripletState::New
                } else {
                    TripletState::Waiting { first_seen: t.first_seen }
                }
            }
            _ => TripletState::New,
        };
        match state {
            TripletState::Passed => {
                c.dir.greylist_record(&net, &sender, &recipient, at, true).await?;
                Ok(Decision::Pass(PassReason::TripletPassed { delayed_seconds: None }))
            }
            TripletState::New => {
                c.dir.greylist_restart(&net, &sender, &recipient, at).await?;
                Ok(Decision::Defer { retry_after_seconds: c.delay as u64 })
            }
            TripletState::Waiting { first_seen } => {
                let waited = at - first_seen;
                if waited < c.delay {
                    c.dir.greylist_record(&net, &sender, &recipient, at, false).await?;
                    return Ok(Decision::Defer { retry_after_seconds: (c.delay - waited) as u64 });
                }
                c.dir.greylist_record(&net, &sender, &recipient, at, true).await?;
                if let Some((address, entry)) = awl {
                    self.count_pass(at, client, &address, entry).await?;
                }
                Ok(Decision::Pass(PassReason::TripletPassed { delayed_seconds: Some(waited as u64) }))
            }
        }
    }

    /// A triplet of this client passed greylisting for the first time:
    /// one more for its auto-whitelist, unless it was counted within the
    /// hour. Written compare-and-set against the entry read before, so two
    /// nodes counting the same client at once count it once.
    async fn count_pass(
        &self,
        at: i64,
        client: IpAddr,
        address: &[u8],
        entry: Option<GreylistClient>,
    ) -> Result<(), GreylistError> {
        let (count, expected) = match entry {
            // Expired: forgotten, counting starts again.
            Some(e) if self.expired(at, e.last_seen) => (0, Some(e.last_seen)),
            Some(e) if at < e.last_seen.saturating_add(AWL_INTERVAL) => return Ok(()),
            Some(e) => (e.passed, Some(e.last_seen)),
            None => (0, None),
        };
        // False means another node counted it first: that count stands.
        let counted = self.inner.dir.greylist_client_set(address, count + 1, at, expected).await?;
        if counted && count + 1 == i64::from(self.inner.config.auto_whitelist_clients) {
            tracing::info!(%client, "greylist: client auto-whitelisted");
        }
        Ok(())
    }

    /// Last seen more than `max_age` before `at`.
    fn expired(&self, at: i64, last_seen: i64) -> bool {
        at.saturating_sub(last_seen) > self.inner.max_age
    }

    /// The text of the 451 4.7.1 reply to a deferred recipient: the
    /// configured message with `%s` replaced by the seconds left and `%r`
    /// by the recipient's domain.
    pub fn defer_text(&self, retry_after_seconds: u64, recipient: &str) -> String {
        let recipient = key::bare(recipient);
        let domain = recipient.rsplit_once('@').map_or(recipient, |(_, d)| d);
        self.inner.config.message.replace("%s", &retry_after_seconds.to_string()).replace("%r", domain)
    }

    /// Postgrey's maintenance at time `at`: forgets triplets and clients
    /// last seen more than `max_age` ago, and triplets that never passed
    /// and were last seen more than `retry_window` ago (their next attempt
    /// starts afresh anyway).
    pub async fn cleanup(&self, at: i64) -> Result<CleanupReport, GreylistError> {
        let c = &*self.inner;
        let done = c.dir.greylist_cleanup(at.saturating_sub(c.max_age), at.saturating_sub(c.retry_window)).await?;
        Ok(CleanupReport { triplets: done.triplets, clients: done.clients })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn dir() -> (tempfile::TempDir, Directory) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", tmp.path().join("d.db").display());
        let dir = Directory::open(&url, atoll_directory::Settings::default()).await.expect("directory");
        (tmp, dir)
    }

    #[tokio::test]
    async fn settings_are_checked() {
        let (_tmp, d) = dir().await;
        let with = |f: &dyn Fn(&mut GreylistConfig)| {
            let mut c = GreylistConfig::default();
            f(&mut c);
            Greylist::new(c, d.clone()).err().map(|e| e.to_string())
        };
        assert_eq!(with(&|_| {}), None, "the defaults are valid");
        let e = with(&|c| c.delay = Duration::ZERO).expect("zero delay");
        assert!(e.contains("delay"), "{e}");
        let e = with(&|c| c.retry_window = Duration::from_secs(60)).expect("window shorter than delay");
        assert!(e.contains("retry_window"), "{e}");
        let e = with(&|c| c.max_age = Duration::from_secs(3600)).expect("max_age shorter than window");
        assert!(e.contains("max_age"), "{e}");
        let e = with(&|c| c.ipv4_prefix = 33).expect("ipv4 prefix");
        assert!(e.contains("ipv4_prefix") && e.contains("33"), "{e}");
        let e = with(&|c| c.ipv6_prefix = 129).expect("ipv6 prefix");
        assert!(e.contains("ipv6_prefix") && e.contains("129"), "{e}");
        let e = with(&|c| c.whitelist_clients = vec!["192.0.2.0/24".into(), "10.0.0.0/40".into()]).expect("cidr");
        assert!(e.contains("\"10.0.0.0/40\"") && e.contains("whitelist_clients"), "{e}");
        let e = with(&|c| c.whitelist_recipients = vec!["/(?P<x>/".into()]).expect("regex");
        assert!(e.contains("\"/(?P<x>/\"") && e.contains("whitelist_recipients"), "{e}");
    }

    #[test]
    fn the_defaults_are_postgreys() {
        let c = GreylistConfig::default();
        assert!(c.enabled);
        assert_eq!(c.delay, Duration::from_secs(300));
        assert_eq!(c.max_age, Duration::from_secs(35 * 86400));
        assert_eq!(c.retry_window, Duration::from_secs(2 * 86400));
        assert_eq!((c.auto_whitelist_clients, c.ipv4_prefix, c.ipv6_prefix), (5, 24, 64));
    }

    #[tokio::test]
    async fn defer_text_fills_in_seconds_and_domain() {
        let (_tmp, d) = dir().await;
        let g = Greylist::new(GreylistConfig::default(), d.clone()).expect("greylist");
        assert_eq!(g.defer_text(300, "bob@example.org"), "greylisted, please try again later");
        let config = GreylistConfig {
            message: "Greylisted for %s seconds, see https://help.example/%r.html".into(),
            ..GreylistConfig::default()
        };
        let g = Greylist::new(config, d).expect("greylist");
        assert_eq!(
            g.defer_text(42, "<Bob@Example.ORG>"),
            "Greylisted for 42 seconds, see https://help.example/Example.ORG.html"
        );
    }
}
