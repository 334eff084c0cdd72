//! One message over an open connection: MAIL FROM, RCPT TO for each
//! recipient, DATA, and a reply per recipient. With PIPELINING (RFC 2920)
//! the commands go in one write; without it, one at a time.

use smtp_proto::{EXT_8BIT_MIME, EXT_DSN, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8};

use super::{ClientError, Connection, Protocol, ServerReply};
use crate::queue::{Ret, record::notify};

/// A message to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The reverse path; empty for the null sender.
    pub sender: &'a str,
    pub recipients: Vec<OutgoingRecipient<'a>>,
    /// DSN ENVID and RET (RFC 3461 §4.3, §4.4), passed on when the server
    /// offers DSN.
    pub envid: Option<&'a str>,
    pub ret: Option<Ret>,
    /// The message, lines ending in CRLF (bare LF is sent as CRLF).
    pub body: &'a [u8],
}

#[derive(Debug, Clone)]
pub struct OutgoingRecipient<'a> {
    pub address: &'a str,
    /// `queue::record::notify` bits; 0 for none given.
    pub notify: u8,
    /// ORCPT's address (RFC 3461 §4.2).
    pub orcpt: Option<&'a str>,
}

/// xtext (RFC 3461 §4): `+`, `=`, controls and non-ASCII as `+XX`.
fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// The message made ready for DATA: CRLF line ends, dot-stuffed
/// (RFC 5321 §4.5.2), and the terminating `.` line.
fn dot_stuffed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 50 + 5);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in body {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn needs_utf8(m: &Outgoing<'_>) -> bool {
    !m.sender.is_ascii() || m.recipients.iter().any(|r| !r.address.is_ascii())
}

fn synthetic(code: u16, status: [u16; 3], text: &str) -> ServerReply {
    ServerReply { code, status: Some(status), lines: vec![text.to_string()] }
}

impl Connection {
    /// Sends one message. `Ok` holds one reply per recipient, in order:
    /// the RCPT refusal, or the answer to the data (for LMTP each
    /// recipient's own, RFC 2033 §4.2). `Err` when the transaction as a
    /// whole did not get that far; nothing was delivered then, except
    /// when the connection broke after the data was sent (the classic
    /// duplicate of RFC 1047, which no SMTP client can avoid).
    pub async fn send(&mut self, m: &Outgoing<'_>) -> Result<Vec<ServerReply>, ClientError> {
        let utf8 = needs_utf8(m);
        if utf8 && !self.has(EXT_SMTP_UTF8) {
            // RFC 6531 §3.2: without SMTPUTF8 such a message cannot go.
            let r = synthetic(553, [5, 6, 7], "the server does not accept internationalised addresses (SMTPUTF8)");
            return Err(self.refused("MAIL FROM", r));
        }
        if self.size > 0 && m.body.len() > self.size {
            // RFC 1870 §6.
            let r =
                synthetic(552, [5, 3, 4], &format!("message larger than the server's limit of {} bytes", self.size));
            return Err(self.refused("MAIL FROM", r));
        }
        let dsn = self.has(EXT_DSN);
        let mut mail = format!("MAIL FROM:<{}>", m.sender);
        if self.has(EXT_SIZE) {
            mail.push_str(&format!(" SIZE={}", m.body.len()));
        }
        if self.has(EXT_8BIT_MIME) && !m.body.is_ascii() {
            mail.push_str(" BODY=8BITMIME");
        }
        if utf8 {
            mail.push_str(" SMTPUTF8");
        }
        if dsn {
            match m.ret {
                Some(Ret::Full) => mail.push_str(" RET=FULL"),
                Some(Ret::Headers) => mail.push_str(" RET=HDRS"),
                None => {}
            }
            if let Some(envid) = m.envid {
                mail.push_str(&format!(" ENVID={}", xtext(envid)));
            }
        }
        let rcpts: Vec<String> = m.recipients.iter().map(|r| rcpt_line(r, dsn)).collect();

        let pipelining = self.has(EXT_PIPELINING);
        let mut replies: Vec<Option<ServerReply>> = vec![None; m.recipients.len()];
        if pipelining {
            let mut batch = String::new();
            for line in std::iter::once(&mail).chain(&rcpts) {
                batch.push_str(line);
                batch.push_str("\r\n");
            }
            batch.push_str("DATA\r\n");
            self.write(batch.as_bytes(), "MAIL FROM").await?;
            let mail_reply = self.reply("MAIL FROM").await?;
            for slot in replies.iter_mut() {
                *slot = Some(self.reply("RCPT TO").await?);
            }
            let data_reply = self.reply("DATA").await?;
            if !mail_reply.is_positive() {
                if data_reply.is_intermediate() {
                    // RFC 2920 §3.1: end the data that nobody wants.
                    self.write(b".\r\n", "DATA").await?;
                    let _ = self.reply("DATA").await?;
                }
                return Err(self.refused("MAIL FROM", mail_reply));
            }
            let accepted = replies.iter().flatten().filter(|r| r.is_positive()).count();
            if accepted == 0 {
                if data_reply.is_intermediate() {
                    self.write(b".\r\n", "DATA").await?;
                    let _ = self.reply("DATA").await?;
                }
                return Ok(replies.into_iter().flatten().collect());
            }
            if !data_reply.is_intermediate() {
                return Err(self.refused("DATA", data_reply));
            }
        } else {
            self.send_line(&mail).await?;
            let mail_reply = self.reply("MAIL FROM").await?;
            if !mail_reply.is_positive() {
                return Err(self.refused("MAIL FROM", mail_reply));
            }
            for (slot, line) in replies.iter_mut().zip(&rcpts) {
                self.send_line(line).await?;
                *slot = Some(self.reply("RCPT TO").await?);
            }
            if !replies.iter().flatten().any(|r| r.is_positive()) {
                self.reset().await?;
                return Ok(replies.into_iter().flatten().collect());
            }
            self.send_line("DATA").await?;
            let data_reply = self.reply("DATA").await?;
            if !data_reply.is_intermediate() {
                return Err(self.refused("DATA", data_reply));
            }
        }

        let data = dot_stuffed(m.body);
        self.write(&data, "data").await?;
        let after = self.config.data_timeout;
        let mut out = Vec::with_capacity(replies.len());
        match self.protocol {
            Protocol::Smtp => {
                let end = self.reply_within("end of data", after).await?;
                for r in replies.into_iter().flatten() {
                    out.push(if r.is_positive() { end.clone() } else { r });
                }
            }
            Protocol::Lmtp => {
                // RFC 2033 §4.2: one reply per accepted recipient, in order.
                for r in replies.into_iter().flatten() {
                    if r.is_positive() {
                        out.push(self.reply_within("end of data", after).await?);
                    } else {
                        out.push(r);
                    }
                }
            }
        }
        Ok(out)
    }
}

fn rcpt_line(r: &OutgoingRecipient<'_>, dsn: bool) -> String {
    let mut line = format!("RCPT TO:<{}>", r.address);
    if dsn {
        if r.notify & notify::NEVER != 0 {
            line.push_str(" NOTIFY=NEVER");
        } else if r.notify != 0 {
            let names: Vec<&str> =
                [(notify::SUCCESS, "SUCCESS"), (notify::FAILURE, "FAILURE"), (notify::DELAY, "DELAY")]
                    .into_iter()
                    .filter(|(bit, _)| r.notify & bit != 0)
                    .map(|(_, name)| name)
                    .collect();
            line.push_str(&format!(" NOTIFY={}", names.join(",")));
        }
        if let Some(orcpt) = r.orcpt {
            let address = orcpt.strip_prefix("rfc822;").unwrap_or(orcpt);
            line.push_str(&format!(" ORCPT=rfc822;{}", xtext(address)));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_dot_stuffed_with_crlf_line_ends() {
        assert_eq!(dot_stuffed(b"a\r\n.b\r\n..\r\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(dot_stuffed(b"a\n.\nb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuffed(b".x"), b"..x\r\n.\r\n");
        assert_eq!(dot_stuffed(b""), b".\r\n");
    }

    #[test]
    fn dsn_parameters_are_xtext() {
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        let r = OutgoingRecipient {
            address: "bob@example.org",
            notify: notify::FAILURE | notify::DELAY,
            orcpt: Some("Bob+1@example.org"),
        };
        assert_eq!(
            rcpt_line(&r, true),
            "RCPT TO:<bob@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;Bob+2B1@example.org"
        );
        assert_eq!(rcpt_line(&r, false), "RCPT TO:<bob@example.org>");
        let never = OutgoingRecipient { address: "x@y", notify: notify::NEVER, orcpt: None };
        assert_eq!(rcpt_line(&never, true), "RCPT TO:<x@y> NOTIFY=NEVER");
    }
}
