//! Delivery status notifications (RFC 3464, requested with RFC 3461's
//! parameters): the bounce when a recipient fails or is given up on, the
//! warning when delivery is late, and the success notice a sender asked
//! for with NOTIFY=SUCCESS.
//!
//! A notification is an ordinary message from the null sender (RFC 5321
//! §4.5.5, so it can never cause another bounce) that the queue sends
//! like any other: into an island for a local sender, over SMTP for an
//! outside one.

use std::fmt::Write;

use atoll_message::date::rfc5322_date;

use crate::queue::{Envelope, Ret};

/// Returned content above this size is cut to the header (RFC 3462 §2:
/// the third part may be the header only; Postfix does the same above its
/// `bounce_size_limit`).
pub const MAX_RETURNED: usize = 64 * 1024;

/// What became of a recipient (RFC 3464 §2.3.3 Action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    Delayed,
    Delivered,
    /// Handed to a server that does not offer DSN (RFC 3461 §5.2.2).
    Relayed,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
        }
    }
}

/// One recipient's part of a notification.
#[derive(Debug, Clone)]
pub struct RecipientStatus {
    pub address: String,
    pub orcpt: Option<String>,
    pub action: Action,
    /// RFC 3463 class.subject.detail.
    pub status: [u16; 3],
    /// The server that answered, when there was one (RFC 3464 §2.3.5).
    pub remote_mta: Option<String>,
    /// What went wrong: the remote reply ("550 5.1.1 unknown user") or
    /// our own reason.
    pub diagnostic: Option<String>,
}

/// Everything a notification says.
pub struct Report<'a> {
    /// This node's host name: Reporting-MTA and the From domain.
    pub reporting_mta: &'a str,
    /// The queue id of the original message.
    pub queue_id: &'a str,
    pub envelope: &'a Envelope,
    /// The original message.
    pub original: &'a [u8],
    pub recipients: &'a [RecipientStatus],
    /// For delay warnings: until when we keep trying (epoch seconds).
    pub retry_until: Option<i64>,
    /// Epoch seconds.
    pub now: i64,
}

/// A value from the envelope as it may appear in a header field: no line
/// breaks, no other controls.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The end of the header section: the offset of the empty line's end, or
/// the whole message when it has no body.
fn header_end(m: &[u8]) -> usize {
    if let Some(i) = memchr::memmem::find(m, b"\r\n\r\n") {
        return i + 4;
    }
    if let Some(i) = memchr::memmem::find(m, b"\n\n") {
        return i + 2;
    }
    m.len()
}

/// A boundary that does not occur in the returned content (RFC 2046 §5.1.1).
fn boundary(queue_id: &str, content: &[u8]) -> String {
    let mut b = format!("=_atoll_dsn_{queue_id}");
    let mut n = 0;
    while memchr::memmem::find(content, b.as_bytes()).is_some() {
        n += 1;
        b = format!("=_atoll_dsn_{queue_id}_{n}");
    }
    b
}

impl Report<'_> {
    /// The notification as a whole message, CRLF line ends.
    pub fn message(&self) -> Vec<u8> {
        let worst = self.recipients.iter().map(|r| r.action).fold(Action::Delivered, |w, a| match (w, a) {
            (Action::Failed, _) | (_, Action::Failed) => Action::Failed,
            (Action::Delayed, _) | (_, Action::Delayed) => Action::Delayed,
            (Action::Relayed, _) | (_, Action::Relayed) => Action::Relayed,
            _ => Action::Delivered,
        });
        let subject = match worst {
            Action::Failed => "Undelivered Mail Returned to Sender",
            Action::Delayed => "Delayed Mail (still being retried)",
            Action::Delivered | Action::Relayed => "Successful Mail Delivery Report",
        };
        // RFC 3461 §4.3: RET=HDRS asks for the header only; a failure
        // returns the whole message unless it is large. Warnings and
        // success notices carry the header only.
        let head = &self.original[..header_end(self.original)];
        let full =
            worst == Action::Failed && self.envelope.ret != Some(Ret::Headers) && self.original.len() <= MAX_RETURNED;
        let (content, content_type) =
            if full { (self.original, "message/rfc822") } else { (head, "text/rfc822-headers") };
        let boundary = boundary(self.queue_id, content);

        let mut m = String::new();
        let host = clean(self.reporting_mta);
        let _ = write!(m, "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n");
        let _ = write!(m, "To: <{}>\r\n", clean(&self.envelope.sender));
        let _ = write!(m, "Subject: {subject}\r\n");
        let _ = write!(m, "Date: {}\r\n", rfc5322_date(self.now));
        let _ = write!(m, "Message-ID: <dsn.{}.{}@{host}>\r\n", self.queue_id, worst.name());
        // RFC 3834 §5: an automatic answer; vacation responders leave it be.
        m.push_str("Auto-Submitted: auto-replied\r\n");
        m.push_str("MIME-Version: 1.0\r\n");
        let _ = write!(
            m,
            "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"
        );
        m.push_str("This is a MIME-encapsulated message.\r\n\r\n");

        let _ = write!(m, "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        m.push_str(&self.human_text(worst));

        // RFC 3464 §2.2: per-message fields, then one block per recipient.
        let _ = write!(m, "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n");
        let _ = write!(m, "Reporting-MTA: dns; {host}\r\n");
        if let Some(envid) = &self.envelope.envid {
            let _ = write!(m, "Original-Envelope-Id: {}\r\n", clean(envid));
        }
        let _ = write!(m, "Arrival-Date: {}\r\n", rfc5322_date(self.envelope.arrived));
        for r in self.recipients {
            m.push_str("\r\n");
            let _ = write!(m, "Final-Recipient: rfc822; {}\r\n", clean(&r.address));
            if let Some(o) = &r.orcpt {
                let _ = write!(m, "Original-Recipient: rfc822; {}\r\n", clean(o));
            }
            let _ = write!(m, "Action: {}\r\n", r.action.name());
            let [a, b, c] = r.status;
            let _ = write!(m, "Status: {a}.{b}.{c}\r\n");
            if let Some(mta) = &r.remote_mta {
                let _ = write!(m, "Remote-MTA: dns; {}\r\n", clean(mta));
            }
            if let Some(d) = &r.diagnostic {
                let _ = write!(m, "Diagnostic-Code: smtp; {}\r\n", clean(d));
            }
            if r.action == Action::Delayed
                && let Some(until) = self.retry_until
            {
                let _ = write!(m, "Will-Retry-Until: {}\r\n", rfc5322_date(until));
            }
        }
        let _ = write!(m, "\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n");
        let mut out = m.into_bytes();
        out.extend_from_slice(content);
        if !out.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        out
    }

    fn human_text(&self, worst: Action) -> String {
        let mut t = String::new();
        let _ = write!(t, "This is the mail system at host {}.\r\n\r\n", clean(self.reporting_mta));
        t.push_str(match worst {
            Action::Failed => {
                "Your message could not be delivered to one or more recipients.\r\n\
                 It is attached below. The mail system gave these reasons:\r\n"
            }
            Action::Delayed => {
                "Your message could not be delivered yet to the recipients below.\r\n\
                 The mail system keeps trying; you need not send it again.\r\n"
            }
            Action::Delivered | Action::Relayed => "Your message was delivered as you asked to be told:\r\n",
        });
        for r in self.recipients {
            let _ = write!(t, "\r\n<{}>: {}", clean(&r.address), r.action.name());
            if let Some(d) = &r.diagnostic {
                let _ = write!(t, ": {}", clean(d));
            }
            t.push_str("\r\n");
        }
        if worst == Action::Delayed
            && let Some(until) = self.retry_until
        {
            let _ = write!(t, "\r\nIt will be tried until {}.\r\n", rfc5322_date(until));
        }
        t
    }
}

/// The enhanced status code at the start of a reason ("550 5.1.1 ..." or
/// "5.1.1 ..."), or `default`.
pub fn status_of(reason: &str, default: [u16; 3]) -> [u16; 3] {
    let mut words = reason.split_whitespace();
    let first = words.next().unwrap_or("");
    let token =
        if first.len() == 3 && first.bytes().all(|b| b.is_ascii_digit()) { words.next().unwrap_or("") } else { first };
    let parts: Vec<&str> = token.split('.').collect();
    if let [a, b, c] = parts.as_slice()
        && let (Ok(a), Ok(b), Ok(c)) = (a.parse::<u16>(), b.parse::<u16>(), c.parse::<u16>())
        && matches!(a, 2 | 4 | 5)
        && b < 1000
        && c < 1000
    {
        return [a, b, c];
    }
    default
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::EnvelopeRecipient;

    fn envelope(ret: Option<Ret>) -> Envelope {
        Envelope {
            sender: "ann@example.net".into(),
            recipients: vec![EnvelopeRecipient::new("bob@example.org")],
            arrived: 1_700_000_000,
            envid: Some("ENV1".into()),
            ret,
            junk: false,
            remote: false,
            held: false,
        }
    }

    fn failed() -> RecipientStatus {
        RecipientStatus {
            address: "bob@example.org".into(),
            orcpt: Some("Bob@example.org".into()),
            action: Action::Failed,
            status: [5, 1, 1],
            remote_mta: Some("mx.example.org".into()),
            diagnostic: Some("550 5.1.1 no such user".into()),
        }
    }

    use mail_parser::MimeHeaders;

    fn parse(m: &[u8]) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(m).expect("the notification parses")
    }

    #[test]
    fn a_bounce_is_a_multipart_report_with_the_message() {
        let original = b"Subject: hello\r\nFrom: ann@example.net\r\n\r\nthe body\r\n";
        let env = envelope(None);
        let r = [failed()];
        let report = Report {
            reporting_mta: "mx1.example.org",
            queue_id: "00AB",
            envelope: &env,
            original,
            recipients: &r,
            retry_until: None,
            now: 1_700_000_100,
        };
        let m = report.message();
        let text = String::from_utf8(m.clone()).unwrap();
        let parsed = parse(&m);
        assert_eq!(parsed.subject(), Some("Undelivered Mail Returned to Sender"));
        let ct = parsed.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        assert_eq!(parsed.parts.len(), 4, "the report and its three parts");
        assert!(text.contains("Reporting-MTA: dns; mx1.example.org\r\n"), "{text}");
        assert!(text.contains("Original-Envelope-Id: ENV1\r\n"));
        assert!(text.contains("Final-Recipient: rfc822; bob@example.org\r\nOriginal-Recipient: rfc822; Bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.org\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
        assert!(text.contains("Content-Type: message/rfc822\r\n\r\nSubject: hello"));
        assert!(text.contains("the body"), "the whole message is returned");
        assert!(text.contains("Auto-Submitted: auto-replied\r\n"));
        assert!(text.contains("To: <ann@example.net>\r\n"));
    }

    #[test]
    fn ret_hdrs_and_large_messages_return_the_header_only() {
        let original = b"Subject: hello\r\n\r\nsecret body\r\n";
        for (ret, original) in [
            (Some(Ret::Headers), original.to_vec()),
            (None, {
                let mut big = b"Subject: big\r\n\r\n".to_vec();
                big.resize(MAX_RETURNED + 10, b'x');
                big
            }),
        ] {
            let env = envelope(ret);
            let r = [failed()];
            let report = Report {
                reporting_mta: "mx1",
                queue_id: "1",
                envelope: &env,
                original: &original,
                recipients: &r,
                retry_until: None,
                now: 0,
            };
            let text = String::from_utf8(report.message()).unwrap();
            assert!(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: "), "{text}");
            assert!(!text.contains("secret body") && !text.contains("xxxx"));
        }
    }

    #[test]
    fn a_delay_warning_says_until_when() {
        let env = envelope(None);
        let r = [RecipientStatus { action: Action::Delayed, status: [4, 4, 1], ..failed() }];
        let report = Report {
            reporting_mta: "mx1",
            queue_id: "1",
            envelope: &env,
            original: b"Subject: x\r\n\r\nbody\r\n",
            recipients: &r,
            retry_until: Some(1_700_400_000),
            now: 0,
        };
        let text = String::from_utf8(report.message()).unwrap();
        assert!(text.contains("Subject: Delayed Mail (still being retried)\r\n"));
        assert!(text.contains("Action: delayed\r\nStatus: 4.4.1\r\n"));
        assert!(text.contains("Will-Retry-Until: "));
        assert!(!text.contains("body\r\n--"), "a warning returns the header only");
    }

    #[test]
    fn envelope_values_cannot_inject_headers() {
        let mut env = envelope(None);
        env.sender = "ann@example.net\r\nBcc: victim@example.org".into();
        let r = [RecipientStatus { address: "x\r\nX-Evil: 1".into(), ..failed() }];
        let report = Report {
            reporting_mta: "mx1",
            queue_id: "1",
            envelope: &env,
            original: b"",
            recipients: &r,
            retry_until: None,
            now: 0,
        };
        let text = String::from_utf8(report.message()).unwrap();
        assert!(!text.contains("\r\nBcc:") && !text.contains("\r\nX-Evil"), "{text}");
    }

    #[test]
    fn status_codes_are_read_from_reasons() {
        assert_eq!(status_of("550 5.1.1 unknown", [5, 0, 0]), [5, 1, 1]);
        assert_eq!(status_of("5.7.1 refused", [5, 0, 0]), [5, 7, 1]);
        assert_eq!(status_of("no such user here", [5, 1, 1]), [5, 1, 1]);
        assert_eq!(status_of("550 rejected", [5, 0, 0]), [5, 0, 0]);
    }
}
