//! The SASL mechanisms atoll's servers offer for password logins, shared
//! by IMAP AUTHENTICATE (RFC 9051 §6.2.2), POP3 AUTH (RFC 5034) and SMTP
//! AUTH (RFC 4954):
//!
//! - PLAIN (RFC 4616): one response, `[authzid] NUL authcid NUL passwd`;
//! - LOGIN (draft-murchison-sasl-login): the user name and then the
//!   password, each in answer to a challenge; not standardised, but what
//!   many mail clients (Outlook among them) still use.
//!
//! Each protocol frames the exchange its own way (`+ ` lines, `334`
//! replies); this crate only turns the base64 responses into credentials,
//! through [`Exchange`]. It never checks a password.

use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The challenges LOGIN sends, base64-encoded: "Username:" and "Password:"
/// (draft-murchison-sasl-login §2; clients ignore the text but many expect
/// exactly these).
pub const LOGIN_USER_CHALLENGE: &str = "VXNlcm5hbWU6";
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// Why a response was not accepted. Protocols answer these with their
/// "bad syntax" reply (IMAP BAD, POP3 -ERR, SMTP 501).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The client sent `*` (RFC 4422 §3.5; RFC 9051 §6.2.2, RFC 5034 §4,
    /// RFC 4954 §4).
    #[error("authentication cancelled")]
    Cancelled,
    #[error("invalid base64 in the SASL response")]
    Base64,
    #[error("malformed {0} response")]
    Malformed(&'static str),
    #[error("the {0} response is not UTF-8")]
    NotUtf8(&'static str),
    #[error("unsupported authentication mechanism")]
    Unsupported,
}

/// A mechanism atoll offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
}

impl Mechanism {
    /// By its registered name, case-insensitively (RFC 4422 §3.1).
    pub fn parse(name: &str) -> Result<Mechanism, Error> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Ok(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Ok(Mechanism::Login)
        } else {
            Err(Error::Unsupported)
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// What the client said it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as (RFC 4616 §2), when one was given.
    pub authzid: Option<String>,
    /// The identity whose password this is.
    pub authcid: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, not even in a test failure's output.
        f.debug_struct("Credentials").field("authzid", &self.authzid).field("authcid", &self.authcid).finish()
    }
}

impl Credentials {
    /// True when the client does not ask to act as someone else: no
    /// authzid, or the authcid itself. atoll has no proxy logins, so any
    /// other authzid is refused (RFC 4616 §2: the server decides).
    pub fn acts_as_self(&self) -> bool {
        self.authzid.as_deref().is_none_or(|z| z.eq_ignore_ascii_case(&self.authcid))
    }
}

/// Decodes one base64 response. A lone `=` is an empty response (RFC 4954
/// §4, RFC 5034 §4, RFC 4959 §3: how an empty initial response is sent);
/// `*` cancels.
pub fn decode(response: &str) -> Result<Vec<u8>, Error> {
    let response = response.trim_end_matches(['\r', '\n']);
    match response {
        "*" => Err(Error::Cancelled),
        "=" => Ok(Vec::new()),
        r => B64.decode(r.as_bytes()).map_err(|_| Error::Base64),
    }
}

/// PLAIN from its decoded message (RFC 4616 §2):
/// `[authzid] NUL authcid NUL passwd`, all UTF-8, authcid and passwd not
/// empty.
pub fn plain(message: &[u8]) -> Result<Credentials, Error> {
    let parts: Vec<&[u8]> = message.split(|&b| b == 0).collect();
    let [authzid, authcid, password] = parts.as_slice() else {
        return Err(Error::Malformed("PLAIN"));
    };
    let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_string).map_err(|_| Error::NotUtf8("PLAIN"));
    let (authzid, authcid, password) = (text(authzid)?, text(authcid)?, text(password)?);
    if authcid.is_empty() || password.is_empty() {
        return Err(Error::Malformed("PLAIN"));
    }
    Ok(Credentials { authzid: (!authzid.is_empty()).then_some(authzid), authcid, password })
}

/// What the server does next in an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (base64, possibly empty) and wait for a
    /// response.
    Challenge(&'static str),
    /// The exchange is over; check these credentials.
    Done(Credentials),
}

/// One server-side exchange of a mechanism, fed the client's base64
/// responses one at a time.
#[derive(Debug)]
pub struct Exchange {
    mechanism: Mechanism,
    /// LOGIN: the user name once it came.
    user: Option<String>,
}

impl Exchange {
    /// Starts an exchange. `initial` is the initial response when the
    /// client sent one with the command (SASL-IR, RFC 4959; RFC 5034 §4;
    /// RFC 4954 §4), `=` standing for an empty one.
    pub fn start(mechanism: Mechanism, initial: Option<&str>) -> Result<(Exchange, Step), Error> {
        let mut ex = Exchange { mechanism, user: None };
        let step = match (mechanism, initial) {
            // RFC 4616 §2: the client may wait for an empty challenge.
            (Mechanism::Plain, None) => Step::Challenge(""),
            (Mechanism::Login, None) => Step::Challenge(LOGIN_USER_CHALLENGE),
            // LOGIN has no initial response in its draft, but clients
            // send the user name as one (`AUTH LOGIN dXNlcg==`), and
            // servers accept it.
            (_, Some(r)) => ex.respond(r)?,
        };
        Ok((ex, step))
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The client's next response.
    pub fn respond(&mut self, response: &str) -> Result<Step, Error> {
        let message = decode(response)?;
        match self.mechanism {
            Mechanism::Plain => plain(&message).map(Step::Done),
            Mechanism::Login => {
                let text = String::from_utf8(message).map_err(|_| Error::NotUtf8("LOGIN"))?;
                match self.user.take() {
                    None if text.is_empty() => Err(Error::Malformed("LOGIN")),
                    None => {
                        self.user = Some(text);
                        Ok(Step::Challenge(LOGIN_PASSWORD_CHALLENGE))
                    }
                    Some(_) if text.is_empty() => Err(Error::Malformed("LOGIN")),
                    Some(user) => Ok(Step::Done(Credentials { authzid: None, authcid: user, password: text })),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        B64.encode(s)
    }

    #[test]
    fn plain_with_and_without_authzid() {
        // RFC 4616 §4's examples.
        let c = plain(b"\0tim\0tanstaaftanstaaf").expect("plain");
        assert_eq!((c.authzid.as_deref(), c.authcid.as_str(), c.password.as_str()), (None, "tim", "tanstaaftanstaaf"));
        assert!(c.acts_as_self());
        let c = plain(b"Ursel\0Kurt\0xipj3plmq").expect("plain");
        assert_eq!(c.authzid.as_deref(), Some("Ursel"));
        assert!(!c.acts_as_self(), "acting as another user");
        let c = plain(b"Kurt\0kurt\0pw").expect("plain");
        assert!(c.acts_as_self(), "the same identity in another case");
    }

    #[test]
    fn plain_refuses_malformed_messages() {
        for bad in [&b""[..], b"\0user", b"a\0b\0c\0d", b"\0\0pw", b"\0user\0"] {
            assert_eq!(plain(bad), Err(Error::Malformed("PLAIN")), "{bad:?}");
        }
        assert_eq!(plain(b"\0us\xffer\0pw"), Err(Error::NotUtf8("PLAIN")));
    }

    #[test]
    fn decode_handles_cancel_empty_and_garbage() {
        assert_eq!(decode("*"), Err(Error::Cancelled));
        assert_eq!(decode("*\r\n"), Err(Error::Cancelled));
        assert_eq!(decode("="), Ok(Vec::new()));
        assert_eq!(decode("dGVzdA==\r\n"), Ok(b"test".to_vec()));
        assert_eq!(decode("not base64!"), Err(Error::Base64));
    }

    #[test]
    fn plain_exchange_with_and_without_initial_response() {
        let response = b64(b"\0ann@example.org\0secret");
        let (_, step) = Exchange::start(Mechanism::Plain, Some(&response)).expect("start");
        let Step::Done(c) = step else { panic!("expected credentials, got {step:?}") };
        assert_eq!((c.authcid.as_str(), c.password.as_str()), ("ann@example.org", "secret"));

        let (mut ex, step) = Exchange::start(Mechanism::Plain, None).expect("start");
        assert_eq!(step, Step::Challenge(""), "an empty challenge first");
        assert!(matches!(ex.respond(&response), Ok(Step::Done(_))));

        // An empty initial response ("=") is not a PLAIN message.
        assert_eq!(Exchange::start(Mechanism::Plain, Some("=")).err(), Some(Error::Malformed("PLAIN")));
    }

    #[test]
    fn login_exchange_asks_user_then_password() {
        let (mut ex, step) = Exchange::start(Mechanism::Login, None).expect("start");
        assert_eq!(step, Step::Challenge(LOGIN_USER_CHALLENGE));
        assert_eq!(decode(LOGIN_USER_CHALLENGE).expect("b64"), b"Username:");
        assert_eq!(ex.respond(&b64(b"ann@example.org")), Ok(Step::Challenge(LOGIN_PASSWORD_CHALLENGE)));
        assert_eq!(decode(LOGIN_PASSWORD_CHALLENGE).expect("b64"), b"Password:");
        let Ok(Step::Done(c)) = ex.respond(&b64(b"pass word")) else { panic!("expected credentials") };
        assert_eq!((c.authzid, c.authcid.as_str(), c.password.as_str()), (None, "ann@example.org", "pass word"));
    }

    #[test]
    fn login_takes_the_user_as_initial_response() {
        let (mut ex, step) = Exchange::start(Mechanism::Login, Some(&b64(b"bob"))).expect("start");
        assert_eq!(step, Step::Challenge(LOGIN_PASSWORD_CHALLENGE));
        assert!(matches!(ex.respond(&b64(b"pw")), Ok(Step::Done(c)) if c.authcid == "bob"));
    }

    #[test]
    fn login_refuses_empty_fields_and_cancel() {
        let (mut ex, _) = Exchange::start(Mechanism::Login, None).expect("start");
        assert_eq!(ex.respond("="), Err(Error::Malformed("LOGIN")));
        let (mut ex, _) = Exchange::start(Mechanism::Login, None).expect("start");
        ex.respond(&b64(b"bob")).expect("user");
        assert_eq!(ex.respond("*"), Err(Error::Cancelled));
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(Mechanism::parse("plain"), Ok(Mechanism::Plain));
        assert_eq!(Mechanism::parse("LOGIN"), Ok(Mechanism::Login));
        assert_eq!(Mechanism::parse("CRAM-MD5"), Err(Error::Unsupported));
        assert_eq!(Mechanism::Login.name(), "LOGIN");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let c = plain(b"\0ann\0hunter2").expect("plain");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
