//! Commands valid in any state: CAPABILITY, NOOP/CHECK, LOGOUT, ID
//! (RFC 2971), plus ENABLE (RFC 5161) and NAMESPACE (RFC 2342).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::session::{CmdResult, Next, Session};

pub(super) fn capability<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, tag: &str) -> CmdResult {
    let caps = s.capabilities();
    s.untagged(format!("CAPABILITY {caps}").as_bytes());
    s.tagged(tag, "OK", "CAPABILITY completed");
    Ok(Next::Continue)
}

/// NOOP and CHECK: the natural points to report changes (RFC 9051 §6.1.2).
pub(super) async fn noop<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, tag: &str) -> CmdResult {
    s.refresh(true).await?;
    s.tagged(tag, "OK", "NOOP completed");
    Ok(Next::Continue)
}

pub(super) fn logout<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, tag: &str) -> CmdResult {
    s.untagged(b"BYE logging out");
    s.tagged(tag, "OK", "LOGOUT completed");
    Ok(Next::Close)
}

pub(super) fn id<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, tag: &str) -> CmdResult {
    s.untagged(format!("ID (\"name\" \"atoll\" \"version\" \"{}\")", env!("CARGO_PKG_VERSION")).as_bytes());
    s.tagged(tag, "OK", "ID completed");
    Ok(Next::Continue)
}

pub(super) fn enable<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    caps: &[String],
) -> CmdResult {
    let mut enabled = Vec::new();
    for c in caps {
        match c.as_str() {
            "CONDSTORE" => {
                s.condstore = true;
                enabled.push("CONDSTORE");
            }
            // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
            "QRESYNC" => {
                s.qresync = true;
                s.condstore = true;
                enabled.push("QRESYNC");
            }
            "IMAP4REV2" => {
                s.rev2 = true;
                enabled.push("IMAP4rev2");
            }
            // RFC 5161 §3.1: unknown capabilities are ignored.
            _ => {}
        }
    }
    s.untagged(format!("ENABLED {}", enabled.join(" ")).trim_end().as_bytes());
    s.tagged(tag, "OK", "ENABLE completed");
    Ok(Next::Continue)
}

/// One personal namespace, no prefix, `/` as delimiter.
pub(super) fn namespace<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, tag: &str) -> CmdResult {
    s.untagged(b"NAMESPACE ((\"\" \"/\")) NIL NIL");
    s.tagged(tag, "OK", "NAMESPACE completed");
    Ok(Next::Continue)
}
