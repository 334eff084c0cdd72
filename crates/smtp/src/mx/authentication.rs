//! Where a message comes from, checked after DATA: iprev (looked up at
//! connect, RFC 8601 §2.7.3), SPF (RFC 7208), DKIM (RFC 6376) and DMARC
//! (RFC 7489), with mail-auth on the node's resolver. The results go into
//! one Authentication-Results header (`auth_results.rs`); a DMARC failure
//! may refuse the message or file it into Junk, as configured.
//!
//! DNS trouble never loses a message: a lookup that fails is "temperror"
//! in the header, and only a DMARC "fail" (which needs answers) is acted
//! on.

use std::net::IpAddr;
use std::time::Duration;

use atoll_dns::{DnsError, Resolver, ReverseName};
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, DmarcResult, MessageAuthenticator, SpfResult};

use super::auth_results::{self, MethodResult};
use crate::reply::Reply;
use crate::session::Client;

/// DKIM signatures checked per message; more are not looked at (RFC 6376
/// §6.1 lets a verifier limit them: each costs a DNS lookup).
const MAX_DKIM_SIGNATURES: usize = 10;

/// What a DMARC failure leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcAction {
    /// 550 5.7.1 at the end of DATA (RFC 7489 §6.7).
    Reject,
    /// Accepted and filed into each recipient's Junk mailbox.
    Junk,
    /// Accepted; the header says what happened.
    Record,
}

/// Which checks run and what a DMARC failure does.
#[derive(Debug, Clone)]
pub struct AuthenticationConfig {
    /// Forward-confirmed reverse DNS of the client, once per connection.
    pub iprev: bool,
    pub spf: bool,
    pub dkim: bool,
    /// Needs `spf` and `dkim`: DMARC is decided on their results.
    pub dmarc: bool,
    /// A DMARC failure under `p=reject`.
    pub dmarc_reject: DmarcAction,
    /// A DMARC failure under `p=quarantine`.
    pub dmarc_quarantine: DmarcAction,
}

impl Default for AuthenticationConfig {
    fn default() -> Self {
        AuthenticationConfig {
            iprev: true,
            spf: true,
            dkim: true,
            dmarc: true,
            dmarc_reject: DmarcAction::Reject,
            dmarc_quarantine: DmarcAction::Junk,
        }
    }
}

/// The MX's checks, on the node's resolver.
pub struct Authentication {
    config: AuthenticationConfig,
    resolver: Resolver,
    checker: MessageAuthenticator,
}

/// What the checks decided about one message.
pub(crate) struct Verdict {
    /// The Authentication-Results field, CRLF included.
    pub(crate) header: String,
    /// Refuse the message with this (DMARC `p=reject`).
    pub(crate) reply: Option<Reply>,
    /// File it into Junk (DMARC `p=quarantine`).
    pub(crate) junk: bool,
}

impl Authentication {
    pub fn new(config: AuthenticationConfig, resolver: Resolver) -> Authentication {
        let checker = resolver.authenticator();
        Authentication { config, resolver, checker }
    }

    /// The client's reverse DNS, looked up once per connection and bounded
    /// by the resolver's timeout as a whole: a slow DNS costs a client at
    /// most that long before the greeting. None when iprev is off.
    pub(crate) async fn reverse_dns(&self, ip: IpAddr) -> Option<Result<ReverseName, DnsError>> {
        if !self.config.iprev {
            return None;
        }
        let limit = self.resolver.timeout().max(Duration::from_millis(100));
        let answer = match tokio::time::timeout(limit, self.resolver.verified_hostname(ip)).await {
            Ok(answer) => answer,
            Err(_) => Err(DnsError::Temporary { name: ip.to_string(), reason: "reverse lookup timed out".into() }),
        };
        if let Err(e) = &answer {
            tracing::debug!(%ip, error = %e, "smtp: reverse DNS failed");
        }
        Some(answer)
    }

    /// Runs the configured checks on `message` (as the client sent it)
    /// from `mail_from` (empty: the null sender).
    pub(crate) async fn check(&self, authserv_id: &str, client: &Client, mail_from: &str, message: &[u8]) -> Verdict {
        let mut results = Vec::new();
        let ip = client.peer.map(atoll_dns::canonical_ip);
        if let (Some(reverse), Some(ip)) = (&client.reverse, ip) {
            results.push(iprev(reverse, ip));
        }
        let helo = client.helo.as_deref().unwrap_or("");

        // RFC 7208 §2.4: the MAIL FROM identity; for the null sender,
        // postmaster@<HELO> (§2.3).
        let spf = match (self.config.spf, ip) {
            (true, Some(ip)) => Some(self.spf(ip, helo, authserv_id, mail_from).await),
            _ => None,
        };
        if let Some((output, identity)) = &spf {
            results.push(spf_result(output.as_ref().map(|o| o.result()), identity));
        }

        let parsed = if self.config.dkim { AuthenticatedMessage::parse(message) } else { None };
        let mut parsed = parsed;
        if let Some(m) = parsed.as_mut() {
            m.dkim_headers.truncate(MAX_DKIM_SIGNATURES);
        }
        let dkim = match &parsed {
            Some(m) => self.checker.verify_dkim(m).await,
            None => Vec::new(),
        };
        if self.config.dkim {
            if dkim.is_empty() {
                results.push(MethodResult::new("dkim", "none"));
            }
            for output in &dkim {
                let (value, why) = dkim_value(output.result());
                let mut r = MethodResult::new("dkim", value);
                if let Some(why) = why {
                    r = r.comment(why);
                }
                if let Some(sig) = output.signature() {
                    r = r.property("header.d", sig.d.clone()).property("header.s", sig.s.clone());
                }
                results.push(r);
            }
        }

        let mut reply = None;
        let mut junk = false;
        if let (true, Some(m), Some((Some(spf_output), identity))) = (self.config.dmarc, &parsed, &spf) {
            // RFC 7489 §4.1: SPF's domain is MAIL FROM's, or HELO's for
            // the null sender.
            let domain = identity.domain();
            let dmarc = self.checker.verify_dmarc(DmarcParameters::new(m, &dkim, domain, spf_output)).await;
            // The policy in effect, when a DMARC record applies: mail-auth
            // has already lowered it one step for a record in testing mode
            // (t=y, RFC 9989 §4.7).
            let has_record = dmarc.dmarc_record().is_some();
            let policy = if has_record { dmarc.policy() } else { Policy::Unspecified };
            let value = dmarc_value(dmarc.spf_result(), dmarc.dkim_result(), has_record);
            let mut r = MethodResult::new("dmarc", value);
            if let Some(p) = policy_name(policy) {
                r = r.comment(format!("p={p}"));
            }
            if !dmarc.domain().is_empty() {
                r = r.property("header.from", dmarc.domain().to_string());
            }
            results.push(r);
            if value == "fail" {
                let action = match policy {
                    Policy::Reject => Some(self.config.dmarc_reject),
                    Policy::Quarantine => Some(self.config.dmarc_quarantine),
                    Policy::None | Policy::Unspecified => None,
                };
                match action {
                    Some(DmarcAction::Reject) => {
                        reply = Some(Reply::with_text(
                            550,
                            [5, 7, 1],
                            format!("message refused by the DMARC policy of {}", dmarc.domain()),
                        ))
                    }
                    Some(DmarcAction::Junk) => junk = true,
                    Some(DmarcAction::Record) | None => {}
                }
            }
        }
        Verdict { header: auth_results::header(authserv_id, &results), reply, junk }
    }

    /// SPF for the MAIL FROM identity, or the HELO identity for `<>`. None
    /// as the output when there is no identity to check (a null sender
    /// whose HELO is not a domain name): "none".
    async fn spf(
        &self,
        ip: IpAddr,
        helo: &str,
        authserv_id: &str,
        mail_from: &str,
    ) -> (Option<mail_auth::SpfOutput>, SpfIdentity) {
        if mail_from.is_empty() {
            let identity = SpfIdentity::Helo(helo.to_string());
            if !is_domain(helo) {
                return (None, identity);
            }
            let output = self.checker.verify_spf(SpfParameters::verify_ehlo(ip, helo, authserv_id)).await;
            (Some(output), identity)
        } else {
            let identity = SpfIdentity::MailFrom(mail_from.to_string());
            let output =
                self.checker.verify_spf(SpfParameters::verify_mail_from(ip, helo, authserv_id, mail_from)).await;
            (Some(output), identity)
        }
    }
}

/// Which identity SPF checked.
enum SpfIdentity {
    MailFrom(String),
    Helo(String),
}

impl SpfIdentity {
    fn domain(&self) -> &str {
        match self {
            SpfIdentity::MailFrom(a) => a.rsplit_once('@').map_or(a.as_str(), |(_, d)| d),
            SpfIdentity::Helo(h) => h,
        }
    }
}

/// RFC 8601 §2.7.3.
fn iprev(reverse: &Result<ReverseName, DnsError>, ip: IpAddr) -> MethodResult {
    let value = match reverse {
        Ok(ReverseName::Verified(_)) => "pass",
        Ok(ReverseName::Unverified(_)) => "fail",
        Ok(ReverseName::NoPtr) => "permerror",
        Err(_) => "temperror",
    };
    let mut r = MethodResult::new("iprev", value);
    if let Ok(ReverseName::Verified(name)) = reverse {
        r = r.comment(name.clone());
    }
    r.property("policy.iprev", ip.to_string())
}

/// RFC 8601 §2.7.2 (RFC 7208 §2.6 results).
fn spf_result(result: Option<SpfResult>, identity: &SpfIdentity) -> MethodResult {
    let value = match result {
        Some(SpfResult::Pass) => "pass",
        Some(SpfResult::Fail) => "fail",
        Some(SpfResult::SoftFail) => "softfail",
        Some(SpfResult::Neutral) => "neutral",
        Some(SpfResult::TempError) => "temperror",
        Some(SpfResult::PermError) => "permerror",
        Some(SpfResult::None) | None => "none",
    };
    let r = MethodResult::new("spf", value);
    match identity {
        SpfIdentity::MailFrom(a) => r.property("smtp.mailfrom", a.clone()),
        SpfIdentity::Helo(h) => r.property("smtp.helo", h.clone()),
    }
}

/// RFC 8601 §2.7.1 (RFC 6376 §6.1 outcomes), with a reason for a fail.
fn dkim_value(result: &DkimResult) -> (&'static str, Option<&'static str>) {
    match result {
        DkimResult::Pass => ("pass", None),
        // RFC 6376 §6.1.3: a body hash that does not match makes the
        // signature fail (PERMFAIL); mail-auth reports it as neutral.
        DkimResult::Neutral(mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            ("fail", Some("body hash did not verify"))
        }
        DkimResult::Fail(_) => ("fail", Some("signature did not verify")),
        DkimResult::Neutral(_) => ("neutral", None),
        DkimResult::TempError(_) => ("temperror", None),
        DkimResult::PermError(_) => ("permerror", None),
        DkimResult::None => ("none", None),
    }
}

/// RFC 7489 §11.2: pass when SPF or DKIM passed aligned; otherwise an
/// error before a failure (the failure might not be one); then fail when
/// the From domain has a policy (`has_policy`), none when it has not.
fn dmarc_value(spf: &DmarcResult, dkim: &DmarcResult, has_policy: bool) -> &'static str {
    let any = |f: fn(&DmarcResult) -> bool| f(spf) || f(dkim);
    if any(|r| matches!(r, DmarcResult::Pass)) {
        "pass"
    } else if any(|r| matches!(r, DmarcResult::TempError(_))) {
        "temperror"
    } else if any(|r| matches!(r, DmarcResult::PermError(_))) {
        "permerror"
    } else if has_policy || any(|r| matches!(r, DmarcResult::Fail(_))) {
        // mail-auth leaves SPF's part at "none" when SPF did not pass at
        // all; under a policy that is a failure all the same.
        "fail"
    } else {
        "none"
    }
}

fn policy_name(p: Policy) -> Option<&'static str> {
    match p {
        Policy::None => Some("none"),
        Policy::Quarantine => Some("quarantine"),
        Policy::Reject => Some("reject"),
        Policy::Unspecified => None,
    }
}

/// A HELO name SPF can check: a domain, not an address literal
/// (RFC 7208 §2.3).
fn is_domain(helo: &str) -> bool {
    !helo.is_empty()
        && helo.contains('.')
        && !helo.starts_with('[')
        && helo.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_auth::Error;

    #[test]
    fn iprev_values() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let pass = iprev(&Ok(ReverseName::Verified("mail.example.com".into())), ip);
        assert_eq!(pass.result, "pass");
        assert_eq!(pass.comment.as_deref(), Some("mail.example.com"));
        assert_eq!(iprev(&Ok(ReverseName::Unverified(vec!["x".into()])), ip).result, "fail");
        assert_eq!(iprev(&Ok(ReverseName::NoPtr), ip).result, "permerror");
        let down = Err(DnsError::Temporary { name: "x".into(), reason: "timeout".into() });
        assert_eq!(iprev(&down, ip).result, "temperror");
    }

    #[test]
    fn a_body_hash_mismatch_is_a_dkim_failure() {
        let body = DkimResult::Neutral(Error::Dkim(DkimError::FailedBodyHashMatch));
        assert_eq!(dkim_value(&body), ("fail", Some("body hash did not verify")));
        assert_eq!(dkim_value(&DkimResult::Pass), ("pass", None));
        assert_eq!(dkim_value(&DkimResult::TempError(Error::NotAligned)).0, "temperror");
    }

    #[test]
    fn dmarc_values() {
        let fail = DmarcResult::Fail(Error::NotAligned);
        let temp = DmarcResult::TempError(Error::NotAligned);
        assert_eq!(dmarc_value(&fail, &DmarcResult::Pass, true), "pass");
        assert_eq!(dmarc_value(&fail, &temp, true), "temperror");
        assert_eq!(dmarc_value(&fail, &fail, true), "fail");
        assert_eq!(dmarc_value(&DmarcResult::None, &DmarcResult::None, true), "fail");
        assert_eq!(dmarc_value(&DmarcResult::None, &DmarcResult::None, false), "none");
    }

    #[test]
    fn spf_identities() {
        let r = spf_result(Some(SpfResult::SoftFail), &SpfIdentity::MailFrom("a@example.com".into()));
        assert_eq!((r.result, r.properties[0].0), ("softfail", "smtp.mailfrom"));
        let r = spf_result(None, &SpfIdentity::Helo("[192.0.2.1]".into()));
        assert_eq!((r.result, r.properties[0].0), ("none", "smtp.helo"));
        assert_eq!(SpfIdentity::MailFrom("a@Example.com".into()).domain(), "Example.com");
        assert!(is_domain("mail.example.com"));
        assert!(!is_domain("[192.0.2.1]"));
        assert!(!is_domain("localhost"));
    }
}
