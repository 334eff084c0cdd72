//! Content filters the inbound MX asks after DATA, before it answers: spam
//! and virus scanners reached over the network, so that a message is
//! refused while the client is still connected instead of bounced later.
//!
//! - `mod.rs` (this file): the configuration ([`FilterConfig`] per scanner,
//!   [`Policy`] for what a verdict leads to), the [`Verdict`] each scanner
//!   gives, and [`Filters::check`], which asks every configured scanner at
//!   once and folds their answers into one [`Decision`] for the MX;
//! - `spamd.rs`: SpamAssassin's spamd (SPAMC/1.5, `SYMBOLS`);
//! - `clamd.rs`: ClamAV's clamd (`zINSTREAM`);
//! - `rspamd.rs`: rspamd's normal worker (HTTP, `POST /checkv2`);
//! - `http.rs`: the one-request HTTP/1.1 client rspamd is asked with;
//! - `conn.rs`: endpoints, connections and bounded reads.
//!
//! Every read from a scanner has a limit and every exchange a deadline: a
//! broken scanner costs a failed check (handled by [`OnFailure`]), never
//! unbounded memory or a session that hangs.

mod conn;
mod http;

pub mod clamd;
pub mod rspamd;
pub mod spamd;

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use thiserror::Error;

use crate::reply::Reply;

pub use conn::Endpoint;

/// How one scanner is reached and how far it is trusted.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterConfig {
    /// `host:port` or the path of a unix socket.
    pub endpoint: Endpoint,
    /// The whole exchange (connect, send, verdict) must end within this;
    /// past it the check counts as failed. The SMTP client waits up to 10
    /// minutes for the reply to the final dot (RFC 5321 §4.5.3.2.6), so
    /// keep the sum of the scanners' times well below that.
    pub timeout: Duration,
    /// Messages larger than this many bytes are not sent to the scanner
    /// at all (spamc's `-s`); they pass this scanner unscanned. For clamd
    /// keep it at or below clamd.conf's StreamMaxLength.
    pub max_size: usize,
    /// What a failed check (scanner down, timed out, answering nonsense)
    /// leads to.
    pub on_failure: OnFailure,
}

impl FilterConfig {
    /// Defaults: 30 s, [`OnFailure::Tempfail`], and `max_size`.
    pub fn new(endpoint: Endpoint, max_size: usize) -> FilterConfig {
        FilterConfig { endpoint, timeout: Duration::from_secs(30), max_size, on_failure: OnFailure::Tempfail }
    }
}

/// What happens to a message when a scanner cannot give a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// 451 4.7.1: the client keeps the message and tries again later.
    #[default]
    Tempfail,
    /// Accept the message as if this scanner had found nothing.
    Accept,
}

/// What a spam verdict leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpamAction {
    /// 550 5.7.1.
    Reject,
    /// Accept, with X-Spam-Flag, X-Spam-Score and X-Spam-Status added.
    #[default]
    Tag,
    /// Accept, tag, and file into the recipient's Junk mailbox.
    Junk,
}

/// What a virus verdict leads to: a refusal, with either code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VirusAction {
    /// 554 5.7.1 (transaction failed).
    #[default]
    Reject554,
    /// 550 5.7.1.
    Reject550,
}

/// The MX's policy for verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    pub spam: SpamAction,
    pub virus: VirusAction,
}

/// The scanners of one MX, and what their verdicts lead to.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub scanners: Vec<Scanner>,
    pub policy: Policy,
}

/// One configured scanner.
#[derive(Debug, Clone, PartialEq)]
pub enum Scanner {
    /// SpamAssassin's spamd; `user` is sent as the User header (whose
    /// preferences spamd applies), none by default.
    Spamd { config: FilterConfig, user: Option<String> },
    /// ClamAV's clamd.
    Clamd { config: FilterConfig },
    /// rspamd's normal worker (port 11333 by default; not the controller).
    Rspamd { config: FilterConfig },
}

impl Scanner {
    /// spamd with spamc's defaults: messages over 500 KB unscanned.
    pub fn spamd(endpoint: Endpoint) -> Scanner {
        Scanner::Spamd { config: FilterConfig::new(endpoint, 500 * 1024), user: None }
    }

    /// clamd with its default StreamMaxLength, 25 MB, as `max_size`.
    pub fn clamd(endpoint: Endpoint) -> Scanner {
        Scanner::Clamd { config: FilterConfig::new(endpoint, 25 << 20) }
    }

    /// rspamd; messages over 20 MB unscanned (rspamd itself takes 50 MB).
    pub fn rspamd(endpoint: Endpoint) -> Scanner {
        Scanner::Rspamd { config: FilterConfig::new(endpoint, 20 << 20) }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scanner::Spamd { .. } => "spamd",
            Scanner::Clamd { .. } => "clamd",
            Scanner::Rspamd { .. } => "rspamd",
        }
    }

    pub fn config(&self) -> &FilterConfig {
        match self {
            Scanner::Spamd { config, .. } | Scanner::Clamd { config } | Scanner::Rspamd { config } => config,
        }
    }

    pub fn config_mut(&mut self) -> &mut FilterConfig {
        match self {
            Scanner::Spamd { config, .. } | Scanner::Clamd { config } | Scanner::Rspamd { config } => config,
        }
    }

    /// Asks this scanner about `message`, within its timeout; a message
    /// over its `max_size` is not sent.
    pub async fn scan(&self, message: &[u8], envelope: &Envelope) -> Outcome {
        let config = self.config();
        if message.len() > config.max_size {
            return Outcome::Skipped { size: message.len(), max_size: config.max_size };
        }
        let result = match self {
            Scanner::Spamd { config, user } => spamd::check(config, user.as_deref(), message).await,
            Scanner::Clamd { config } => clamd::check(config, message).await,
            Scanner::Rspamd { config } => rspamd::check(config, envelope, message).await,
        };
        match result {
            Ok(verdict) => Outcome::Verdict(verdict),
            Err(e) => Outcome::Failed(e),
        }
    }
}

/// What the MX knows about the message besides its bytes. rspamd takes all
/// of it (as request headers); spamd and clamd see only the message, so
/// pass the message with the MX's own Received line already prepended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The SMTP client's address.
    pub client_ip: Option<IpAddr>,
    /// Its name, when reverse DNS confirmed it.
    pub client_hostname: Option<String>,
    /// What it gave in EHLO/HELO.
    pub helo: Option<String>,
    /// MAIL FROM, without angle brackets; empty for the null sender.
    pub mail_from: String,
    /// RCPT TO addresses, without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The id the MX logs the message under.
    pub queue_id: Option<String>,
    /// The authenticated user (submission), if any.
    pub auth_user: Option<String>,
}

/// One scanner's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Clean,
    Spam {
        score: f64,
        threshold: f64,
        /// The rules (spamd's tests, rspamd's symbols) that matched.
        tests: Vec<String>,
        /// X-Spam-Flag, X-Spam-Score and X-Spam-Status for a tagged
        /// message.
        headers: Vec<Header>,
    },
    Virus {
        /// The signature's name, as the scanner gave it.
        name: String,
    },
    /// rspamd's "soft reject" (a rate limit, for instance): try later.
    Defer {
        reason: String,
    },
}

/// What asking one scanner came to.
#[derive(Debug)]
pub enum Outcome {
    Verdict(Verdict),
    /// The message is larger than the scanner's `max_size`.
    Skipped {
        size: usize,
        max_size: usize,
    },
    Failed(FilterError),
}

/// One scanner's part in a [`Decision`], for the MX's log line.
#[derive(Debug)]
pub struct Scan {
    pub scanner: &'static str,
    pub outcome: Outcome,
}

impl fmt::Display for Scan {
    /// `spamd=spam(1000.0/5.0)`, `clamd=virus(Eicar-Signature)`,
    /// `rspamd=failed(no verdict within 30s)`: one word per scanner for the
    /// MX's log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.scanner;
        match &self.outcome {
            Outcome::Verdict(Verdict::Clean) => write!(f, "{name}=clean"),
            Outcome::Verdict(Verdict::Spam { score, threshold, .. }) => {
                write!(f, "{name}=spam({score:.1}/{threshold:.1})")
            }
            Outcome::Verdict(Verdict::Virus { name: virus }) => write!(f, "{name}=virus({virus})"),
            Outcome::Verdict(Verdict::Defer { reason }) => write!(f, "{name}=defer({reason})"),
            Outcome::Skipped { size, .. } => write!(f, "{name}=skipped(size {size})"),
            Outcome::Failed(e) => write!(f, "{name}=failed({e})"),
        }
    }
}

/// What the MX does with the message: reply with `reply` instead of 250,
/// or accept it with `headers` prepended (in this order, after the MX's
/// own Received line) and, when `junk` is set, file it into the
/// recipients' Junk mailbox instead of the inbox.
#[derive(Debug)]
pub struct Decision {
    pub reply: Option<Reply>,
    pub headers: Vec<Header>,
    pub junk: bool,
    pub scans: Vec<Scan>,
}

impl Decision {
    pub fn accepts(&self) -> bool {
        self.reply.is_none()
    }
}

/// A header field to add to the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl Header {
    /// Control characters in what a scanner sent are replaced, so nothing
    /// it says can end the field early or add a field of its own.
    pub fn new(name: &str, value: &str) -> Header {
        let clean = |s: &str| -> String { s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect() };
        Header { name: clean(name).replace([' ', ':'], "-"), value: clean(value).trim().to_string() }
    }

    /// Appends `Name: value` and CRLF to `out`, folded at spaces so that
    /// lines stay within 78 characters where the value allows it (RFC 5322
    /// §2.1.1 and §2.2.3: folding is CRLF before white space).
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut line = self.name.len() + 1;
        out.extend_from_slice(self.name.as_bytes());
        out.push(b':');
        for word in self.value.split(' ').filter(|w| !w.is_empty()) {
            if line + 1 + word.len() > 78 && line > self.name.len() + 1 {
                out.extend_from_slice(b"\r\n\t");
                line = 1;
            } else {
                out.push(b' ');
                line += 1;
            }
            out.extend_from_slice(word.as_bytes());
            line += word.len();
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The header fields a tagged spam gets, in the form SpamAssassin uses.
pub(crate) fn spam_headers(score: f64, threshold: f64, tests: &[String]) -> Vec<Header> {
    // A long list of rules folds at commas, as spamd's own header does.
    let tests = tests.join(", ");
    vec![
        Header::new("X-Spam-Flag", "YES"),
        Header::new("X-Spam-Score", &format!("{score:.1}")),
        Header::new("X-Spam-Status", &format!("Yes, score={score:.1} required={threshold:.1} tests={tests}")),
    ]
}

/// Why a scanner gave no verdict.
#[derive(Debug, Error)]
pub enum FilterError {
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: Endpoint,
        #[source]
        source: io::Error,
    },
    #[error("no verdict within {0:?}")]
    Timeout(Duration),
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// The scanner said something the protocol does not allow; `line` is
    /// what it said (cut short).
    #[error("protocol error, {what}: {line:?}")]
    Protocol { what: &'static str, line: String },
    #[error("the scanner's answer is longer than {0} bytes")]
    TooLong(usize),
    /// The scanner understood the request and reported an error.
    #[error("the scanner reported an error: {0}")]
    Scanner(String),
    /// The message is over the scanner's own size limit (clamd's
    /// StreamMaxLength): `max_size` is set too high for it.
    #[error("the message is over the scanner's size limit: {0}")]
    SizeLimit(String),
}

/// Runs `f` within `timeout`.
pub(crate) async fn within<T>(
    timeout: Duration,
    f: impl Future<Output = Result<T, FilterError>>,
) -> Result<T, FilterError> {
    tokio::time::timeout(timeout, f).await.unwrap_or(Err(FilterError::Timeout(timeout)))
}

const REPLY_TEMPFAIL: Reply = Reply::new(451, [4, 7, 1], "content filter unavailable, try again later");

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.scanners.is_empty()
    }

    /// Asks every scanner about `message` at once and decides.
    ///
    /// Precedence, first match wins: a virus (refused by [`VirusAction`]);
    /// spam under [`SpamAction::Reject`] (550 5.7.1); a deferral or a
    /// failed check under [`OnFailure::Tempfail`] (451 4.7.1); otherwise
    /// the message is accepted, tagged by the first scanner (in
    /// configuration order) that called it spam, and under
    /// [`SpamAction::Junk`] filed into Junk.
    pub async fn check(&self, message: &[u8], envelope: &Envelope) -> Decision {
        let outcomes = join_all(self.scanners.iter().map(|s| s.scan(message, envelope)).collect()).await;
        let scans: Vec<Scan> =
            self.scanners.iter().zip(outcomes).map(|(s, outcome)| Scan { scanner: s.name(), outcome }).collect();
        for (scanner, scan) in self.scanners.iter().zip(&scans) {
            match &scan.outcome {
                Outcome::Failed(e) => {
                    tracing::warn!(scanner = scan.scanner, endpoint = %scanner.config().endpoint, error = %e, "content filter failed")
                }
                Outcome::Skipped { size, max_size } => {
                    tracing::debug!(scanner = scan.scanner, size, max_size, "message too large to scan")
                }
                Outcome::Verdict(v) => tracing::debug!(scanner = scan.scanner, verdict = ?v, "content filter verdict"),
            }
        }
        decide(&self.policy, &self.scanners, scans)
    }
}

fn decide(policy: &Policy, scanners: &[Scanner], scans: Vec<Scan>) -> Decision {
    let verdicts = || scans.iter().filter_map(|s| if let Outcome::Verdict(v) = &s.outcome { Some(v) } else { None });

    let virus = verdicts().find_map(|v| if let Verdict::Virus { name } = v { Some(name) } else { None });
    if let Some(name) = virus {
        let code = match policy.virus {
            VirusAction::Reject554 => 554,
            VirusAction::Reject550 => 550,
        };
        let reply = Reply::with_text(code, [5, 7, 1], format!("message rejected: virus found ({name})"));
        return Decision { reply: Some(reply), headers: Vec::new(), junk: false, scans };
    }

    let spam = verdicts().find_map(|v| match v {
        Verdict::Spam { score, threshold, headers, .. } => Some((*score, *threshold, headers.clone())),
        _ => None,
    });
    if let Some((score, threshold, _)) = spam
        && policy.spam == SpamAction::Reject
    {
        let reply =
            Reply::with_text(550, [5, 7, 1], format!("message rejected as spam (score {score:.1}/{threshold:.1})"));
        return Decision { reply: Some(reply), headers: Vec::new(), junk: false, scans };
    }

    let deferred = verdicts().any(|v| matches!(v, Verdict::Defer { .. }));
    let failed = scanners.iter().zip(&scans).any(|(scanner, scan)| {
        matches!(scan.outcome, Outcome::Failed(_)) && scanner.config().on_failure == OnFailure::Tempfail
    });
    if deferred || failed {
        return Decision { reply: Some(REPLY_TEMPFAIL), headers: Vec::new(), junk: false, scans };
    }

    match spam {
        Some((_, _, headers)) => Decision { reply: None, headers, junk: policy.spam == SpamAction::Junk, scans },
        None => Decision { reply: None, headers: Vec::new(), junk: false, scans },
    }
}

/// Polls all of `futures` together and returns their outputs in order
/// (what `futures::future::join_all` does, for the two or three scanners
/// an MX has).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spam(score: f64) -> Verdict {
        let tests = vec!["GTUBE".to_string()];
        Verdict::Spam { score, threshold: 5.0, headers: spam_headers(score, 5.0, &tests), tests }
    }

    fn scanners(on_failure: OnFailure) -> Vec<Scanner> {
        let mut all = vec![
            Scanner::spamd("127.0.0.1:783".parse().unwrap()),
            Scanner::clamd("127.0.0.1:3310".parse().unwrap()),
            Scanner::rspamd("127.0.0.1:11333".parse().unwrap()),
        ];
        for s in &mut all {
            s.config_mut().on_failure = on_failure;
        }
        all
    }

    fn scans(outcomes: [Outcome; 3]) -> Vec<Scan> {
        let names = ["spamd", "clamd", "rspamd"];
        names.into_iter().zip(outcomes).map(|(scanner, outcome)| Scan { scanner, outcome }).collect()
    }

    fn down() -> Outcome {
        Outcome::Failed(FilterError::Timeout(Duration::from_secs(1)))
    }

    fn clean() -> Outcome {
        Outcome::Verdict(Verdict::Clean)
    }

    #[test]
    fn a_virus_beats_everything() {
        let policy = Policy { spam: SpamAction::Reject, virus: VirusAction::Reject554 };
        let virus = Outcome::Verdict(Verdict::Virus { name: "Eicar-Signature".into() });
        let d = decide(&policy, &scanners(OnFailure::Tempfail), scans([Outcome::Verdict(spam(9.0)), virus, down()]));
        assert_eq!(d.reply.unwrap().to_string(), "554 5.7.1 message rejected: virus found (Eicar-Signature)");

        let policy = Policy { virus: VirusAction::Reject550, ..policy };
        let virus = Outcome::Verdict(Verdict::Virus { name: "Bad\r\n250 ok".into() });
        let d = decide(&policy, &scanners(OnFailure::Accept), scans([clean(), virus, clean()]));
        let reply = d.reply.unwrap();
        assert_eq!(reply.code, 550);
        assert!(!reply.text.contains('\n'), "{reply}");
    }

    #[test]
    fn spam_is_rejected_tagged_or_junked() {
        let outcomes = || scans([Outcome::Verdict(spam(1000.0)), clean(), clean()]);
        let reject = Policy { spam: SpamAction::Reject, ..Policy::default() };
        let d = decide(&reject, &scanners(OnFailure::Tempfail), outcomes());
        assert_eq!(d.reply.unwrap().to_string(), "550 5.7.1 message rejected as spam (score 1000.0/5.0)");

        let tag = Policy { spam: SpamAction::Tag, ..Policy::default() };
        let d = decide(&tag, &scanners(OnFailure::Tempfail), outcomes());
        assert!(d.accepts());
        assert!(!d.junk);
        let names: Vec<&str> = d.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["X-Spam-Flag", "X-Spam-Score", "X-Spam-Status"]);
        assert_eq!(d.headers[2].value, "Yes, score=1000.0 required=5.0 tests=GTUBE");

        let junk = Policy { spam: SpamAction::Junk, ..Policy::default() };
        let d = decide(&junk, &scanners(OnFailure::Tempfail), outcomes());
        assert!(d.accepts() && d.junk && d.headers.len() == 3);
    }

    #[test]
    fn failures_follow_on_failure() {
        let policy = Policy::default();
        let d = decide(&policy, &scanners(OnFailure::Tempfail), scans([clean(), down(), clean()]));
        assert_eq!(d.reply.unwrap().to_string(), "451 4.7.1 content filter unavailable, try again later");

        let d = decide(&policy, &scanners(OnFailure::Accept), scans([clean(), down(), clean()]));
        assert!(d.accepts() && d.headers.is_empty() && !d.junk);

        // A failed spam check with Accept still lets a virus verdict refuse.
        let virus = Outcome::Verdict(Verdict::Virus { name: "x".into() });
        let d = decide(&policy, &scanners(OnFailure::Accept), scans([down(), virus, clean()]));
        assert_eq!(d.reply.unwrap().code, 554);

        // Spam tagged while another scanner failed under Tempfail: 451 wins.
        let d = decide(&policy, &scanners(OnFailure::Tempfail), scans([Outcome::Verdict(spam(6.0)), down(), clean()]));
        assert_eq!(d.reply.unwrap().code, 451);

        let deferred = Outcome::Verdict(Verdict::Defer { reason: "ratelimit".into() });
        let d = decide(&policy, &scanners(OnFailure::Accept), scans([clean(), clean(), deferred]));
        assert_eq!(d.reply.unwrap().code, 451);

        let skipped = Outcome::Skipped { size: 10, max_size: 5 };
        let d = decide(&policy, &scanners(OnFailure::Tempfail), scans([skipped, clean(), clean()]));
        assert!(d.accepts());
    }

    #[test]
    fn headers_fold_and_stay_one_field() {
        let tests: Vec<String> = (0..30).map(|i| format!("SOME_LONG_RULE_NAME_{i}")).collect();
        let headers = spam_headers(12.345, 5.0, &tests);
        assert_eq!(headers[1].value, "12.3");
        let mut out = Vec::new();
        for h in &headers {
            h.write(&mut out);
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("X-Spam-Flag: YES\r\nX-Spam-Score: 12.3\r\nX-Spam-Status: Yes, score=12.3"), "{text}");
        for line in text.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        // Every continuation line starts with white space, so the fields
        // stay three.
        let fields = text.split("\r\n").filter(|l| !l.is_empty() && !l.starts_with('\t')).count();
        assert_eq!(fields, 3, "{text}");
        assert!(text.contains("SOME_LONG_RULE_NAME_29\r\n"));

        let h = Header::new("X-Bad\r\nName", "a\r\nInjected: yes");
        let mut out = Vec::new();
        h.write(&mut out);
        // Control characters become spaces, and runs of spaces collapse
        // when the value is written word by word.
        assert_eq!(out, b"X-Bad--Name: a Injected: yes\r\n");
    }

    #[test]
    fn scans_for_the_log() {
        let all =
            scans([Outcome::Verdict(spam(1000.0)), Outcome::Verdict(Verdict::Virus { name: "V".into() }), down()]);
        let line: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(line, ["spamd=spam(1000.0/5.0)", "clamd=virus(V)", "rspamd=failed(no verdict within 1s)"]);
        let skipped = Scan { scanner: "clamd", outcome: Outcome::Skipped { size: 10, max_size: 5 } };
        assert_eq!(skipped.to_string(), "clamd=skipped(size 10)");
    }

    #[tokio::test]
    async fn join_all_keeps_order() {
        let slow = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            1
        };
        let fast = async { 2 };
        let futures: Vec<Pin<Box<dyn Future<Output = i32>>>> = vec![Box::pin(slow), Box::pin(fast)];
        assert_eq!(join_all(futures).await, [1, 2]);
    }
}
