//! The MX's side of the shared session: what it offers after EHLO, and
//! what happens to a complete message: loop check, trace header, SPF/DKIM/
//! DMARC (`authentication.rs`), content filters, then the queue, and 250
//! only once the queue has it on stable storage.

use smtp_proto::{MailFrom, RcptTo};

use super::{Inner, auth_results};
use crate::queue::{Envelope, EnvelopeRecipient, Ret, format_id};
use crate::reply::{QUEUE_FAILED, Reply};
use crate::session::{Client, Dialect, Limits, Protocol, Transaction};
use crate::trace::{self, Received};

// RFC 5321 §6.3: a message with too many Received lines is in a loop.
const TOO_MANY_HOPS: Reply = Reply::new(554, [5, 4, 6], "too many hops, mail loop?");
/// RFC 5321 §6.3 asks for a large limit (at least 100 is common practice).
const MAX_RECEIVED: usize = 100;

impl Protocol for Inner {
    type Recipient = ();

    fn dialect(&self) -> Dialect {
        Dialect::Smtp
    }

    fn hostname(&self) -> &str {
        &self.config.hostname
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn banner(&self) -> &str {
        "ESMTP atoll ready"
    }

    fn extensions(&self, client: &Client) -> u32 {
        crate::session::protocol::esmtp_extensions(self.tls.is_some(), client)
    }

    fn tls(&self) -> Option<&atoll_net::TlsAcceptor> {
        self.tls.as_ref()
    }

    async fn check_recipient(
        &self,
        client: &Client,
        mail: &MailFrom<String>,
        rcpt: &RcptTo<String>,
    ) -> Result<(), Reply> {
        Inner::check_recipient(self, &mail.address, &rcpt.address).await?;
        self.greylisted(client, &mail.address, &rcpt.address).await
    }

    async fn message(&self, client: &Client, tx: Transaction<()>) -> Vec<Reply> {
        vec![self.queue_message(client, tx).await]
    }
}

impl Inner {
    async fn queue_message(&self, client: &Client, tx: Transaction<()>) -> Reply {
        if received_count(&tx.body) >= MAX_RECEIVED {
            return TOO_MANY_HOPS;
        }
        let id = self.queue.new_id();
        let qid = format_id(id);
        let protocol = match (client.extended, client.tls) {
            (true, true) => "ESMTPS",
            (true, false) => "ESMTP",
            (false, true) => "SMTPS",
            (false, false) => "SMTP",
        };
        let received = Received {
            helo: client.helo.as_deref().unwrap_or(""),
            hostname: client.hostname(),
            peer: client.peer,
            by: &self.config.hostname,
            protocol,
            id: &qid,
            time: trace::now_epoch(),
        };
        let mut header = received.header();
        let mut junk = false;
        // The message as the client sent it, without what only we may say.
        let mut message = std::borrow::Cow::Borrowed(&tx.body[..]);
        if let Some(auth) = &self.authentication {
            let verdict = auth.check(&self.config.hostname, client, &tx.mail.address, &tx.body).await;
            tracing::info!(
                id = %qid,
                sender = %tx.mail.address,
                results = %verdict.header.trim_end().replace("\r\n\t", " "),
                "smtp: authentication"
            );
            if let Some(reply) = verdict.reply {
                tracing::info!(id = %qid, sender = %tx.mail.address, reply = %reply, "smtp: refused by DMARC policy");
                return reply;
            }
            junk = verdict.junk;
            header.push_str(&verdict.header);
            // RFC 8601 §5: results under our authserv-id that arrived from
            // outside are forged.
            if let std::borrow::Cow::Owned(m) = auth_results::remove_forged(&message, &self.config.hostname) {
                message = std::borrow::Cow::Owned(m);
            }
        }
        let mut body = Vec::with_capacity(header.len() + message.len());
        body.extend_from_slice(header.as_bytes());
        if self.filters.is_empty() {
            body.extend_from_slice(&message);
        } else {
            // Verdict headers from outside would pass for ours.
            body.extend_from_slice(&strip_spam_headers(&message));
            let scan = crate::filter::Envelope {
                client_ip: client.peer,
                client_hostname: client.hostname().map(str::to_string),
                helo: client.helo.clone(),
                mail_from: tx.mail.address.clone(),
                rcpt_to: tx.recipients.iter().map(|(r, ())| r.address.clone()).collect(),
                queue_id: Some(qid.clone()),
                auth_user: None,
            };
            let decision = self.filters.check(&body, &scan).await;
            let scans: Vec<String> = decision.scans.iter().map(ToString::to_string).collect();
            tracing::info!(id = %qid, scans = %scans.join(" "), "smtp: content filters");
            if let Some(reply) = decision.reply {
                tracing::info!(id = %qid, sender = %tx.mail.address, reply = %reply, "smtp: refused by content filter");
                return reply;
            }
            if !decision.headers.is_empty() {
                let mut tagged = Vec::with_capacity(body.len() + 512);
                tagged.extend_from_slice(header.as_bytes());
                for h in &decision.headers {
                    h.write(&mut tagged);
                }
                tagged.extend_from_slice(&body[header.len()..]);
                body = tagged;
            }
            junk |= decision.junk;
        }

        let mail = tx.mail;
        let envelope = Envelope {
            ret: Ret::from_mail_flags(mail.flags),
            envid: mail.env_id,
            sender: mail.address,
            recipients: tx.recipients.into_iter().map(|(r, ())| EnvelopeRecipient::from_rcpt(r)).collect(),
            arrived: trace::now_epoch(),
            junk,
            // The MX takes mail for this platform's own addresses only.
            remote: false,
            held: false,
        };
        let (sender, rcpts, size) = (envelope.sender.clone(), envelope.recipients.len(), body.len());
        match self.enqueue(id, envelope, body).await {
            Ok(()) => {
                tracing::info!(id = %qid, %sender, recipients = rcpts, size, peer = ?client.peer, "smtp: accepted");
                Reply::with_text(250, [2, 0, 0], format!("OK queued as {qid}"))
            }
            Err(e) => {
                tracing::error!(id = %qid, error = %e, "smtp: could not queue the message");
                QUEUE_FAILED
            }
        }
    }
}

/// The message without header fields named X-Spam-*: only our own content
/// filters may say what they found.
fn strip_spam_headers(message: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let end = memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |p| p + 2);
    let header = &message[..end];
    let is_spam_field = |line: &[u8]| line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"x-spam-");
    let mut lines = header.split_inclusive(|&b| b == b'\n');
    if !lines.clone().any(is_spam_field) {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len());
    let mut dropping = false;
    for line in lines.by_ref() {
        // A continuation line belongs to the field before it.
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            dropping = is_spam_field(line);
        }
        if !dropping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&message[end..]);
    std::borrow::Cow::Owned(out)
}

/// Received lines in the header section (RFC 5321 §6.3 loop detection).
fn received_count(message: &[u8]) -> usize {
    let end = memchr::memmem::find(message, b"\r\n\r\n").unwrap_or(message.len());
    let header = &message[..end];
    let mut n = 0;
    let mut at_line_start = true;
    for (i, &b) in header.iter().enumerate() {
        if at_line_start && header[i..].len() >= 9 && header[i..i + 9].eq_ignore_ascii_case(b"received:") {
            n += 1;
        }
        at_line_start = b == b'\n';
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_lines_are_counted_in_the_header_only() {
        let m = b"Received: a\r\nreceived: b\r\n\tcontinued\r\nSubject: x\r\n\r\nReceived: in the body\r\n";
        assert_eq!(received_count(m), 2);
        assert_eq!(received_count(b"Subject: none\r\n\r\n"), 0);
    }

    #[test]
    fn forged_spam_headers_are_removed() {
        let m = b"X-Spam-Flag: YES\r\nSubject: hi\r\nx-spam-status: No,\r\n\tscore=-5\r\nX-Spamless: keep\r\n\r\nX-Spam-Flag: in the body\r\n";
        let out = strip_spam_headers(m);
        assert_eq!(&*out, &b"Subject: hi\r\nX-Spamless: keep\r\n\r\nX-Spam-Flag: in the body\r\n"[..]);
        let clean = b"Subject: x\r\n\r\nbody";
        assert!(matches!(strip_spam_headers(clean), std::borrow::Cow::Borrowed(_)));
    }
}
