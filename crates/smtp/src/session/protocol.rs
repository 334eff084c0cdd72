//! What differs between the servers that share the session state machine:
//! LMTP on the store role (RFC 2033) and SMTP on the MX (RFC 5321).

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use atoll_net::TlsAcceptor;
use smtp_proto::{MailFrom, RcptTo};

use crate::Reply;

/// Which greeting the server expects and how it answers a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// LHLO; one reply per recipient after the message (RFC 2033 §4.2).
    Lmtp,
    /// EHLO or HELO; one reply for the message.
    Smtp,
}

/// The limits every session enforces.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Largest message, in bytes (SIZE, RFC 1870).
    pub(crate) max_message_size: usize,
    /// Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100).
    pub(crate) max_recipients: usize,
    /// How long the server waits for the client (RFC 5321 §4.5.3.2.7).
    pub(crate) timeout: Duration,
}

/// What the session knows about its client.
#[derive(Debug, Clone, Default)]
pub(crate) struct Client {
    pub(crate) peer: Option<IpAddr>,
    /// The name given in EHLO, HELO or LHLO.
    pub(crate) helo: Option<String>,
    /// Greeted with EHLO or LHLO (extensions in use), not HELO.
    pub(crate) extended: bool,
    /// The connection is TLS (implicit or after STARTTLS).
    pub(crate) tls: bool,
    /// Who authenticated (AUTH, RFC 4954): the account's address.
    pub(crate) user: Option<String>,
    pub(crate) failed_auths: u32,
    /// What reverse DNS says about `peer`: looked up once per connection
    /// by the MX (LMTP is internal and does not). None: not looked up.
    pub(crate) reverse: Option<Result<atoll_dns::ReverseName, atoll_dns::DnsError>>,
}

impl Client {
    /// The client's forward-confirmed host name, if it has one.
    pub(crate) fn hostname(&self) -> Option<&str> {
        match &self.reverse {
            Some(Ok(name)) => name.verified(),
            _ => None,
        }
    }
}

/// The extensions an ESMTP server (the MX, submission) offers: all the
/// session supports, and STARTTLS while the connection is cleartext and a
/// certificate is configured (RFC 3207 §4.2: not again after TLS).
pub(crate) fn esmtp_extensions(tls_configured: bool, client: &Client) -> u32 {
    use smtp_proto::{
        EXT_8BIT_MIME, EXT_CHUNKING, EXT_DSN, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8,
        EXT_START_TLS,
    };
    let mut caps =
        EXT_PIPELINING | EXT_ENHANCED_STATUS_CODES | EXT_8BIT_MIME | EXT_SMTP_UTF8 | EXT_SIZE | EXT_CHUNKING | EXT_DSN;
    if tls_configured && !client.tls {
        caps |= EXT_START_TLS;
    }
    caps
}

/// From MAIL to the end of the message (or RSET).
pub(crate) struct Transaction<R> {
    pub(crate) mail: MailFrom<String>,
    pub(crate) recipients: Vec<(RcptTo<String>, R)>,
    pub(crate) body: Vec<u8>,
    /// The message passed the size limit; its bytes are being dropped.
    pub(crate) too_big: bool,
    /// BDAT was used: DATA and RCPT are out of sequence now (RFC 3030 §2).
    pub(crate) chunked: bool,
}

/// One server's decisions; the session does the protocol.
pub(crate) trait Protocol: Send + Sync {
    /// What an accepted recipient resolved to.
    type Recipient: Send + Sync;

    fn dialect(&self) -> Dialect;
    fn hostname(&self) -> &str;
    fn limits(&self) -> &Limits;
    /// The text after the hostname in the 220 greeting.
    fn banner(&self) -> &str;
    /// The extensions (smtp-proto's `EXT_*` bits) offered to this client.
    fn extensions(&self, client: &Client) -> u32;
    /// For STARTTLS, when offered.
    fn tls(&self) -> Option<&TlsAcceptor> {
        None
    }

    /// The SASL mechanisms (smtp-proto's `AUTH_*` bits) this server takes;
    /// 0: AUTH is not a command here.
    fn sasl_mechanisms(&self) -> u64 {
        0
    }

    /// Whether passwords are taken only over TLS (then AUTH is offered
    /// only after STARTTLS, RFC 4954 §4 and RFC 8314).
    fn auth_needs_tls(&self) -> bool {
        true
    }

    /// Checks a password login: the authenticated address, or the reply
    /// that refuses it (after whatever delay the server imposes).
    fn authenticate(
        &self,
        client: &Client,
        credentials: &atoll_sasl::Credentials,
    ) -> impl Future<Output = Result<String, Reply>> + Send {
        let _ = (client, credentials);
        async { Err(crate::reply::NOT_IMPLEMENTED) }
    }

    /// MAIL FROM, after the session's own checks (sequence, SIZE, BODY).
    fn check_sender(&self, client: &Client, mail: &MailFrom<String>) -> impl Future<Output = Result<(), Reply>> + Send {
        let _ = (client, mail);
        async { Ok(()) }
    }

    /// RCPT TO: the recipient, or the reply that refuses it.
    fn check_recipient(
        &self,
        client: &Client,
        mail: &MailFrom<String>,
        rcpt: &RcptTo<String>,
    ) -> impl Future<Output = Result<Self::Recipient, Reply>> + Send;

    /// The complete message: what to answer. LMTP gives one reply per
    /// recipient in order, SMTP one for the message.
    fn message(&self, client: &Client, tx: Transaction<Self::Recipient>) -> impl Future<Output = Vec<Reply>> + Send;
}
