//! The commands, one file per group:
//!
//! - `capa.rs`: CAPA (RFC 2449 §5)
//! - `auth.rs`: STLS (RFC 2595), USER and PASS (RFC 1939 §7), AUTH
//!   (RFC 5034), and opening the maildrop
//! - `transaction.rs`: STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP
//!   (RFC 1939 §5, §7)
//! - `update.rs`: QUIT, and the UPDATE state it enters (RFC 1939 §6)

mod auth;
mod capa;
mod transaction;
mod update;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::parser::Command;
use crate::session::{CmdResult, Session};

pub(crate) async fn run<S>(s: &mut Session<S>, cmd: Command) -> CmdResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    use Command as C;
    match cmd {
        C::Capa => capa::capa(s),
        C::Stls => auth::stls(s).await,
        C::User(name) => auth::user(s, name),
        C::Pass(password) => auth::pass(s, &password).await,
        C::Auth { mechanism: None, .. } => auth::mechanisms(s),
        C::Auth { mechanism: Some(m), initial } => auth::auth(s, &m, initial.as_deref()).await,
        C::Stat => transaction::stat(s),
        C::List(n) => transaction::list(s, n),
        C::Uidl(n) => transaction::uidl(s, n),
        C::Retr(n) => transaction::retr(s, n).await,
        C::Top(n, lines) => transaction::top(s, n, lines).await,
        C::Dele(n) => transaction::dele(s, n),
        C::Rset => transaction::rset(s),
        C::Noop => transaction::noop(s),
        C::Quit => update::quit(s).await,
    }
}
