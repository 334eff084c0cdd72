//! The SMTP and LMTP client: what the outbound queue uses to hand mail to
//! another domain's MX (RFC 5321), and what the MX uses to hand mail to a
//! store node of an island it does not serve (LMTP, RFC 2033).
//!
//! - `reply.rs`: reading the server's replies;
//! - `transaction.rs`: one message (MAIL, RCPT, DATA) with per-recipient
//!   results.
//!
//! A connection opens with the greeting and EHLO (LHLO for LMTP), and
//! turns to TLS when the server offers STARTTLS and the caller gave a TLS
//! connector (opportunistic TLS, RFC 3207; see `atoll_net::ClientStream`).

mod reply;
mod transaction;

use std::net::SocketAddr;
use std::time::Duration;

use atoll_net::{ClientStream, TlsConnector};
use smtp_proto::EhloResponse;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub use reply::{ReplyError, ServerReply, read_reply};
pub use transaction::{Outgoing, OutgoingRecipient};

/// Which protocol the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Smtp,
    Lmtp,
}

/// Timeouts and names for connections out.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The name we give in EHLO/LHLO: this node's host name.
    pub helo: String,
    pub connect_timeout: Duration,
    /// For the greeting and each command's reply; RFC 5321 §4.5.3.2.1–3
    /// ask for 5 minutes.
    pub command_timeout: Duration,
    /// For the reply to the end of the data; RFC 5321 §4.5.3.2.6: 10 min.
    pub data_timeout: Duration,
}

impl ClientConfig {
    pub fn new(helo: impl Into<String>) -> ClientConfig {
        ClientConfig {
            helo: helo.into(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
        }
    }
}

/// Why a connection or a transaction did not get as far as per-recipient
/// answers.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("{host}: no answer within {after:?} ({stage})")]
    Timeout { host: String, stage: &'static str, after: Duration },
    #[error("{host}: {stage}: {source}")]
    Io { host: String, stage: &'static str, source: ReplyError },
    /// The server refused at a point that concerns the whole transaction
    /// (greeting, EHLO, MAIL FROM, DATA).
    #[error("{host} said {reply} ({stage})")]
    Refused { host: String, stage: &'static str, reply: ServerReply },
    #[error("{host}: TLS handshake failed: {source}")]
    Tls { host: String, source: std::io::Error },
}

impl ClientError {
    /// A permanent refusal (5xx): retrying the same message will not help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ClientError::Refused { reply, .. } if reply.code >= 500)
    }

    /// The server's reply, when there was one.
    pub fn reply(&self) -> Option<&ServerReply> {
        match self {
            ClientError::Refused { reply, .. } => Some(reply),
            _ => None,
        }
    }
}

/// An open connection to a server, after the greeting and EHLO/LHLO.
pub struct Connection {
    io: BufReader<ClientStream>,
    host: String,
    protocol: Protocol,
    config: ClientConfig,
    /// smtp-proto's `EXT_*` bits of the last EHLO/LHLO reply.
    extensions: u32,
    /// SIZE the server announced; 0 for none.
    size: usize,
}

impl Connection {
    /// Connects to `addr` (`host` names it in logs and TLS SNI), reads the
    /// greeting and says EHLO/LHLO; with `tls`, upgrades when the server
    /// offers STARTTLS.
    pub async fn open(
        addr: SocketAddr,
        host: &str,
        protocol: Protocol,
        config: &ClientConfig,
        tls: Option<&TlsConnector>,
    ) -> Result<Connection, ClientError> {
        let tcp = match tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(ClientError::Connect { addr, source }),
            Err(_) => {
                return Err(ClientError::Timeout {
                    host: host.to_string(),
                    stage: "connect",
                    after: config.connect_timeout,
                });
            }
        };
        let _ = tcp.set_nodelay(true);
        let mut c = Connection {
            io: BufReader::new(ClientStream::Plain(tcp)),
            host: host.to_string(),
            protocol,
            config: config.clone(),
            extensions: 0,
            size: 0,
        };
        // RFC 5321 §3.1: 220 greets; 554 means no service here.
        let greeting = c.reply("greeting").await?;
        if greeting.code != 220 {
            return Err(c.refused("greeting", greeting));
        }
        c.hello().await?;
        if let Some(tls) = tls
            && c.has(smtp_proto::EXT_START_TLS)
        {
            c.send_line("STARTTLS").await?;
            let r = c.reply("STARTTLS").await?;
            if r.code == 220 {
                // RFC 3207 §4.2: nothing read before the handshake counts.
                if !c.io.buffer().is_empty() {
                    return Err(ClientError::Io {
                        host: c.host.clone(),
                        stage: "STARTTLS",
                        source: ReplyError::Malformed("data after the STARTTLS reply".into()),
                    });
                }
                let host = c.host.clone();
                c.io.get_mut().upgrade(tls, &host).await.map_err(|source| ClientError::Tls { host, source })?;
                // RFC 3207 §4.2: forget what was learnt before TLS.
                c.hello().await?;
            } else {
                tracing::info!(host = %c.host, reply = %r, "smtp client: STARTTLS refused; going on in cleartext");
            }
        }
        Ok(c)
    }

    pub fn is_tls(&self) -> bool {
        self.io.get_ref().is_tls()
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn has(&self, extension: u32) -> bool {
        self.extensions & extension != 0
    }

    /// EHLO (or LHLO), with HELO as the fallback for an SMTP server that
    /// does not know EHLO (RFC 5321 §3.2).
    async fn hello(&mut self) -> Result<(), ClientError> {
        let verb = match self.protocol {
            Protocol::Smtp => "EHLO",
            Protocol::Lmtp => "LHLO",
        };
        let helo = self.config.helo.clone();
        self.send_line(&format!("{verb} {helo}")).await?;
        let r = self.reply(verb).await?;
        if r.is_positive() {
            let (extensions, size) = extensions_of(&r);
            self.extensions = extensions;
            self.size = size;
            return Ok(());
        }
        if self.protocol == Protocol::Smtp && r.code >= 500 {
            self.send_line(&format!("HELO {helo}")).await?;
            let r = self.reply("HELO").await?;
            if r.is_positive() {
                self.extensions = 0;
                self.size = 0;
                return Ok(());
            }
            return Err(self.refused("HELO", r));
        }
        Err(self.refused(verb, r))
    }

    /// Ends the session politely; errors do not matter any more.
    pub async fn quit(mut self) {
        if self.send_line("QUIT").await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), read_reply(&mut self.io)).await;
        }
        let _ = self.io.get_mut().shutdown().await;
    }

    /// RSET between two transactions on one connection.
    pub async fn reset(&mut self) -> Result<(), ClientError> {
        self.send_line("RSET").await?;
        let r = self.reply("RSET").await?;
        if r.is_positive() { Ok(()) } else { Err(self.refused("RSET", r)) }
    }

    async fn send_line(&mut self, line: &str) -> Result<(), ClientError> {
        let mut buf = Vec::with_capacity(line.len() + 2);
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\r\n");
        self.write(&buf, "write").await
    }

    async fn write(&mut self, bytes: &[u8], stage: &'static str) -> Result<(), ClientError> {
        let after = self.config.command_timeout;
        let io = self.io.get_mut();
        let result = tokio::time::timeout(after, async {
            io.write_all(bytes).await?;
            io.flush().await
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ClientError::Io { host: self.host.clone(), stage, source: ReplyError::Io(e) }),
            Err(_) => Err(ClientError::Timeout { host: self.host.clone(), stage, after }),
        }
    }

    async fn reply(&mut self, stage: &'static str) -> Result<ServerReply, ClientError> {
        self.reply_within(stage, self.config.command_timeout).await
    }

    async fn reply_within(&mut self, stage: &'static str, after: Duration) -> Result<ServerReply, ClientError> {
        match tokio::time::timeout(after, read_reply(&mut self.io)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(source)) => Err(ClientError::Io { host: self.host.clone(), stage, source }),
            Err(_) => Err(ClientError::Timeout { host: self.host.clone(), stage, after }),
        }
    }

    fn refused(&self, stage: &'static str, reply: ServerReply) -> ClientError {
        ClientError::Refused { host: self.host.clone(), stage, reply }
    }
}

/// The extensions and SIZE of an EHLO/LHLO reply, read with smtp-proto's
/// EHLO parser (it wants the reply as it came, so it is written out again).
fn extensions_of(r: &ServerReply) -> (u32, usize) {
    let mut raw = String::new();
    for (i, line) in r.lines.iter().enumerate() {
        let sep = if i + 1 == r.lines.len() { ' ' } else { '-' };
        raw.push_str(&format!("{}{sep}{line}\r\n", r.code));
    }
    match EhloResponse::<String>::parse(&mut raw.as_bytes().iter()) {
        Ok(e) => (e.capabilities, e.size),
        Err(_) => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_read_from_the_ehlo_reply() {
        let r = ServerReply {
            code: 250,
            status: None,
            lines: vec![
                "mx.example.org greets you".into(),
                "PIPELINING".into(),
                "SIZE 1000000".into(),
                "STARTTLS".into(),
                "8BITMIME".into(),
                "DSN".into(),
            ],
        };
        let (ext, size) = extensions_of(&r);
        assert_eq!(size, 1_000_000);
        for e in [smtp_proto::EXT_PIPELINING, smtp_proto::EXT_START_TLS, smtp_proto::EXT_8BIT_MIME, smtp_proto::EXT_DSN]
        {
            assert_ne!(ext & e, 0, "extension {e:#x}");
        }
        assert_eq!(ext & smtp_proto::EXT_SMTP_UTF8, 0);
        let bare = ServerReply { code: 250, status: None, lines: vec!["mx.example.org".into()] };
        assert_eq!(extensions_of(&bare), (0, 0));
    }
}
