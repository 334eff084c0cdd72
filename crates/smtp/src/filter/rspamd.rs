//! rspamd's normal worker, over its HTTP protocol ("Rspamd protocol",
//! rspamd.com/doc/developers/protocol.html).
//!
//! One `POST /checkv2` per message. The envelope travels in request
//! headers (`From`, one `Rcpt` per recipient, `IP`, `Helo`, `Hostname`,
//! `Queue-Id`, `User`); the reply is JSON:
//!
//! ```text
//! {"is_skipped": false, "score": 5.2, "required_score": 7,
//!  "action": "add header", "symbols": {"NAME": {"name": "NAME", "score": 5}, ...}}
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::conn::{Conn, Endpoint, shown};
use super::http::{self, header_value};
use super::{Envelope, FilterConfig, FilterError, Verdict, spam_headers, within};

/// Longest reply body we read: the JSON of a verdict with its symbols.
const MAX_REPLY: usize = 1 << 20;

/// Asks rspamd at `config.endpoint` about `message`, within
/// `config.timeout`.
pub async fn check(config: &FilterConfig, envelope: &Envelope, message: &[u8]) -> Result<Verdict, FilterError> {
    within(config.timeout, async {
        let conn = Conn::open(&config.endpoint).await?;
        let host = match &config.endpoint {
            Endpoint::Tcp(addr) => addr.as_str(),
            Endpoint::Unix(_) => "localhost",
        };
        let reply = http::post(conn, host, "/checkv2", &request_headers(envelope), message, MAX_REPLY).await?;
        if reply.status != 200 {
            return Err(FilterError::Scanner(format!("HTTP {}: {}", reply.status, error_text(&reply.body))));
        }
        parse_reply(&reply.body)
    })
    .await
}

/// The envelope as rspamd's request headers ("HTTP headers" in the
/// protocol document).
fn request_headers(envelope: &Envelope) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    // "From: defines SMTP mail from command data"; the null sender is <>.
    let from = if envelope.mail_from.is_empty() { "<>" } else { envelope.mail_from.as_str() };
    headers.push(("From", header_value(from)));
    // "Rcpt: defines SMTP recipient (there may be several Rcpt headers)".
    for rcpt in &envelope.rcpt_to {
        headers.push(("Rcpt", header_value(rcpt)));
    }
    if let Some(ip) = envelope.client_ip {
        headers.push(("IP", ip.to_string()));
    }
    let optional = [
        ("Helo", &envelope.helo),
        ("Hostname", &envelope.client_hostname),
        ("Queue-Id", &envelope.queue_id),
        ("User", &envelope.auth_user),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            headers.push((name, header_value(value)));
        }
    }
    headers
}

#[derive(Debug, Deserialize)]
struct CheckReply {
    score: f64,
    required_score: f64,
    action: String,
    #[serde(default)]
    symbols: BTreeMap<String, Symbol>,
    #[serde(default)]
    messages: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Symbol {
    #[serde(default)]
    score: f64,
}

fn parse_reply(body: &[u8]) -> Result<Verdict, FilterError> {
    let reply: CheckReply = serde_json::from_slice(body)
        .map_err(|e| FilterError::Protocol { what: "not a /checkv2 reply", line: format!("{e}: {}", shown(body)) })?;
    if !reply.score.is_finite() || !reply.required_score.is_finite() {
        return Err(FilterError::Protocol { what: "a score that is not a number", line: shown(body) });
    }
    // "action - recommended action for a message" (protocol document,
    // "Rspamd HTTP reply").
    match reply.action.as_str() {
        // greylist: the MX greylists by its own rules.
        "no action" | "greylist" => Ok(Verdict::Clean),
        "add header" | "rewrite subject" | "reject" => {
            // The strongest symbols first, then by name.
            let mut symbols: Vec<(&String, &Symbol)> = reply.symbols.iter().collect();
            symbols.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then_with(|| a.0.cmp(b.0)));
            let tests: Vec<String> = symbols.into_iter().map(|(name, _)| name.clone()).collect();
            let (score, threshold) = (reply.score, reply.required_score);
            Ok(Verdict::Spam { score, threshold, headers: spam_headers(score, threshold, &tests), tests })
        }
        // "soft reject - message should be temporary rejected (for example,
        // due to rate limit exhausting)"; "the value of the smtp_message
        // key is intended to be returned as SMTP response text".
        "soft reject" => {
            let reason = match reply.messages.get("smtp_message") {
                Some(serde_json::Value::String(text)) => text.clone(),
                _ => "soft reject".to_string(),
            };
            Ok(Verdict::Defer { reason })
        }
        other => Err(FilterError::Protocol { what: "an unknown action", line: shown(other.as_bytes()) }),
    }
}

/// The `error` member of rspamd's JSON error reply, or the body itself.
fn error_text(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(serde_json::Value::String(error)) = map.get("error")
    {
        return shown(error.as_bytes());
    }
    shown(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_headers() {
        let envelope = Envelope {
            client_ip: Some("192.0.2.7".parse().unwrap()),
            client_hostname: Some("mail.example.net".into()),
            helo: Some("mail.example.net\r\nInjected: 1".into()),
            mail_from: String::new(),
            rcpt_to: vec!["ann@example.org".into(), "bob@example.org".into()],
            queue_id: Some("Q1".into()),
            auth_user: None,
        };
        let headers = request_headers(&envelope);
        let expected: Vec<(&str, String)> = vec![
            ("From", "<>".into()),
            ("Rcpt", "ann@example.org".into()),
            ("Rcpt", "bob@example.org".into()),
            ("IP", "192.0.2.7".into()),
            ("Helo", "mail.example.netInjected: 1".into()),
            ("Hostname", "mail.example.net".into()),
            ("Queue-Id", "Q1".into()),
        ];
        assert_eq!(headers, expected);
    }

    #[test]
    fn replies() {
        let gtube = br#"{"is_skipped":true,"score":0.0,"required_score":15.0,"action":"reject",
            "symbols":{"GTUBE":{"name":"GTUBE","score":0.0}},"messages":{"smtp_message":"Gtube pattern"}}"#;
        let Verdict::Spam { score, threshold, tests, headers } = parse_reply(gtube).unwrap() else { panic!() };
        assert_eq!((score, threshold, tests.as_slice()), (0.0, 15.0, &["GTUBE".to_string()][..]));
        assert_eq!(headers[0].value, "YES");

        let tagged = br#"{"score":7.5,"required_score":15,"action":"add header",
            "symbols":{"A":{"score":0.5},"B":{"score":5},"C":{"score":2}}}"#;
        let Verdict::Spam { tests, .. } = parse_reply(tagged).unwrap() else { panic!() };
        assert_eq!(tests, ["B", "C", "A"]);

        let ham = br#"{"score":-0.1,"required_score":15,"action":"no action","symbols":{}}"#;
        assert_eq!(parse_reply(ham).unwrap(), Verdict::Clean);
        let grey = br#"{"score":4.5,"required_score":15,"action":"greylist"}"#;
        assert_eq!(parse_reply(grey).unwrap(), Verdict::Clean);

        let soft = br#"{"score":0,"required_score":15,"action":"soft reject","messages":{"smtp_message":"Ratelimit"}}"#;
        assert_eq!(parse_reply(soft).unwrap(), Verdict::Defer { reason: "Ratelimit".into() });

        for bad in [
            &br#"{"score":1,"required_score":15,"action":"explode"}"#[..],
            br#"{"score":1,"action":"reject"}"#,
            br#"{"score":"high","required_score":15,"action":"reject"}"#,
            b"<html>not json</html>",
            b"",
        ] {
            let e = parse_reply(bad).unwrap_err();
            assert!(matches!(e, FilterError::Protocol { .. }), "{bad:?}: {e}");
        }
    }

    #[test]
    fn error_bodies() {
        assert_eq!(error_text(br#"{"error":"Message is too big"}"#), "Message is too big");
        assert_eq!(error_text(b"plain"), "plain");
    }
}
