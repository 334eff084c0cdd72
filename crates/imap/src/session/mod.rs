//! One IMAP connection: the state machine of RFC 9051 §3 (not
//! authenticated → authenticated → selected → logout), the read loop, the
//! output buffer, and the refresh that turns database changes into
//! untagged updates. The commands themselves are in `crate::commands`.

pub mod selected;

use std::net::IpAddr;
use std::sync::Arc;

use atoll_net::{Shutdown, Stream};
use atoll_store::Island;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::proto::framing::{self, Frame, Limits};
use crate::proto::{Command, CommandKind, parse_command, response};
use crate::server::Inner;
pub use selected::{Selected, Update};

/// The logged-in user.
pub(crate) struct User {
    pub(crate) account_id: i64,
    #[allow(dead_code)] // for logs and ACLs
    pub(crate) address: String,
    pub(crate) quota_bytes: i64,
    pub(crate) island: Island,
}

/// What the loop does after a command.
pub(crate) enum Next {
    Continue,
    Close,
}

pub(crate) type CmdResult = std::io::Result<Next>;

/// Output is gathered here and written once per command; a large FETCH
/// flushes on the way so that memory stays bounded.
const FLUSH_AT: usize = 256 << 10;

pub struct Session<S> {
    pub(crate) inner: Arc<Inner>,
    pub(crate) io: BufReader<Stream<S>>,
    pub(crate) out: Vec<u8>,
    pub(crate) peer: Option<IpAddr>,
    pub(crate) shutdown: Shutdown,
    pub(crate) user: Option<User>,
    pub(crate) selected: Option<Selected>,
    /// ENABLEd (RFC 5161) or implied by use (RFC 7162 §3.1).
    pub(crate) condstore: bool,
    pub(crate) qresync: bool,
    pub(crate) rev2: bool,
    /// The saved search result (SEARCHRES, RFC 5182), as UIDs.
    pub(crate) saved: Vec<u32>,
    pub(crate) failed_logins: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    pub(crate) fn new(inner: Arc<Inner>, stream: Stream<S>, peer: Option<IpAddr>, shutdown: Shutdown) -> Self {
        Session {
            inner,
            io: BufReader::new(stream),
            out: Vec::with_capacity(4096),
            peer,
            shutdown,
            user: None,
            selected: None,
            condstore: false,
            qresync: false,
            rev2: false,
            saved: Vec::new(),
            failed_logins: 0,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.io.get_ref().is_tls()
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits::new(self.inner.config.max_line_length, self.inner.config.max_message_size as u64)
    }

    pub async fn run(mut self) -> std::io::Result<()> {
        let caps = self.capabilities();
        self.untagged(format!("OK [CAPABILITY {caps}] {} IMAP4rev2 ready", self.inner.config.hostname).as_bytes());
        self.flush().await?;
        loop {
            let timeout =
                if self.user.is_some() { self.inner.config.idle_timeout } else { self.inner.config.login_timeout };
            let limits = self.limits();
            let mut shutdown = self.shutdown.clone();
            let frame = tokio::select! {
                _ = shutdown.wait() => {
                    self.untagged(b"BYE server shutting down");
                    let _ = self.flush().await;
                    return Ok(());
                }
                f = tokio::time::timeout(timeout, framing::read_command(&mut self.io, limits)) => f,
            };
            let frame = match frame {
                Err(_) => {
                    // RFC 9051 §5.4: the autologout timer ran out.
                    self.untagged(b"BYE autologout; idle for too long");
                    let _ = self.flush().await;
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(f))) => f,
            };
            let next = match frame {
                Frame::Command(bytes) => match parse_command(&bytes) {
                    Ok(cmd) => self.dispatch(cmd).await?,
                    Err(e) => {
                        self.out.extend_from_slice(&e.to_response());
                        Next::Continue
                    }
                },
                Frame::LineTooLong { tag } => {
                    self.tagged(tag.as_deref().unwrap_or("*"), "BAD", "[TOOBIG] command line too long");
                    Next::Continue
                }
                Frame::LiteralTooBig { tag, size } => {
                    // RFC 7889 §3 / RFC 9051 §7.1: refused before it is sent.
                    let text = format!("[TOOBIG] literal of {size} octets is over the limit");
                    self.tagged(tag.as_deref().unwrap_or("*"), "NO", &text);
                    Next::Continue
                }
                // read_command answers continuations itself.
                Frame::NeedContinuation { .. } => Next::Continue,
                Frame::NonSyncTooBig { size, .. } => {
                    // RFC 7888 §4: the bytes are on their way; end here.
                    self.untagged(format!("BYE [TOOBIG] literal of {size} octets is over the limit").as_bytes());
                    Next::Close
                }
            };
            self.flush().await?;
            if let Next::Close = next {
                let _ = self.io.get_mut().shutdown().await;
                return Ok(());
            }
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> CmdResult {
        use CommandKind as K;
        let Command { tag, kind } = cmd;
        let authenticated = self.user.is_some();
        let selected = self.selected.is_some();
        // RFC 9051 §3: which commands are valid in which state.
        let allowed = match &kind {
            K::Capability | K::Noop | K::Logout | K::Id(_) => true,
            K::StartTls | K::Authenticate { .. } | K::Login { .. } => !authenticated,
            K::Check
            | K::Close
            | K::Unselect
            | K::Expunge
            | K::UidExpunge(_)
            | K::Search { .. }
            | K::Fetch { .. }
            | K::Store { .. }
            | K::Copy { .. }
            | K::Move { .. } => selected,
            _ => authenticated,
        };
        if !allowed {
            let why = if authenticated { "not valid in this state" } else { "log in first" };
            self.tagged(&tag, "BAD", &format!("{} {why}", kind.name()));
            return Ok(Next::Continue);
        }
        crate::commands::run(self, tag, kind).await
    }

    /// Turns CONDSTORE on for a CONDSTORE-enabling command (RFC 7162
    /// §3.1). When it was off while a mailbox is selected, the client has
    /// not seen the mailbox's HIGHESTMODSEQ yet: RFC 7162 §3.1.2.1 has the
    /// server send it as `* OK [HIGHESTMODSEQ n]` with the first such
    /// command.
    pub(crate) fn enable_condstore(&mut self) {
        if self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(modseq) = self.selected.as_ref().map(|m| m.highestmodseq) {
            self.untagged(format!("OK [HIGHESTMODSEQ {modseq}] CONDSTORE enabled").as_bytes());
        }
    }

    // Output.

    pub(crate) fn untagged(&mut self, line: &[u8]) {
        self.out.extend_from_slice(b"* ");
        self.out.extend_from_slice(line);
        self.out.extend_from_slice(b"\r\n");
    }

    pub(crate) fn tagged(&mut self, tag: &str, status: &str, text: &str) {
        self.out.extend_from_slice(tag.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(status.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        atoll_net::write_pending(self.io.get_mut(), &mut self.out).await
    }

    /// Flushes when the buffer is large (inside long FETCH answers).
    pub(crate) async fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.out.len() >= FLUSH_AT { self.flush().await } else { Ok(()) }
    }

    pub(crate) fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1", "IMAP4rev2", "LITERAL+", "ENABLE", "ID", "IDLE", "NAMESPACE", "UNSELECT"];
        let may_login = self.is_tls() || self.inner.config.allow_plaintext_auth;
        if self.user.is_none() {
            if !self.is_tls() && self.inner.tls.is_some() {
                caps.push("STARTTLS");
            }
            if may_login {
                caps.extend(["AUTH=PLAIN", "SASL-IR"]);
            } else {
                // RFC 9051 §6.2.3: LOGIN is refused until TLS.
                caps.push("LOGINDISABLED");
            }
        } else {
            caps.extend([
                "UIDPLUS",
                "MOVE",
                "CONDSTORE",
                "QRESYNC",
                "SPECIAL-USE",
                "CREATE-SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "CHILDREN",
                "ESEARCH",
                "SEARCHRES",
                "WITHIN",
                "BINARY",
                "STATUS=SIZE",
                "SAVEDATE",
                "QUOTA",
                "QUOTA=RES-STORAGE",
            ]);
        }
        let mut s = caps.join(" ");
        if self.user.is_some() {
            s.push_str(&format!(" APPENDLIMIT={}", self.inner.config.max_message_size));
        }
        s
    }

    /// Sends what changed in the selected mailbox since this session last
    /// looked (RFC 9051 §7.4.1, §7.5.1). `allow_expunge` is false inside
    /// FETCH, STORE and SEARCH by sequence number.
    pub(crate) async fn refresh(&mut self, allow_expunge: bool) -> std::io::Result<()> {
        let (Some(user), Some(sel)) = (&self.user, &mut self.selected) else { return Ok(()) };
        let changes = match user.island.changes_since(&sel.mailbox, sel.highestmodseq).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "imap: reading mailbox changes failed");
                return Ok(());
            }
        };
        let old_max_uid = sel.max_uid();
        let updates = sel.apply(changes, allow_expunge, self.qresync);
        if !updates.is_empty() {
            sel.share(&self.inner.views);
        }
        // New keywords are announced before the FETCH that shows them: look
        // at the changed flags and at the new messages (at the end: UIDs
        // only grow).
        let messages = sel.messages.clone();
        let new_messages = messages.iter().rev().take_while(|m| m.uid > old_max_uid).map(|m| &m.flags);
        let changed = updates.iter().filter_map(|u| match u {
            Update::Flags { flags, .. } => Some(flags),
            _ => None,
        });
        let flags_lines = sel.learn_keywords(changed.chain(new_messages)).then(|| sel.flags_lines());
        let grew = updates.iter().any(|u| matches!(u, Update::Exists(_)));
        let island = user.island.clone();
        for line in flags_lines.into_iter().flatten() {
            self.untagged(&line);
        }
        self.write_updates(updates);
        // RFC 3501 §7.3.2: RECENT goes with EXISTS when new messages come;
        // they are \Recent here if no other session claimed them first.
        if grew && let Some(sel) = &mut self.selected {
            notice_recent(&island, sel, self.rev2).await;
            if !self.rev2 {
                let n = sel.recent_count();
                self.untagged(format!("{n} RECENT").as_bytes());
            }
        }
        Ok(())
    }

    pub(crate) fn write_updates(&mut self, updates: Vec<Update>) {
        for u in updates {
            match u {
                Update::Expunge(seq) => self.untagged(format!("{seq} EXPUNGE").as_bytes()),
                Update::Vanished(uids) => {
                    let set = crate::proto::sequence::compress(&uids);
                    self.untagged(format!("VANISHED {set}").as_bytes());
                }
                Update::Exists(n) => self.untagged(format!("{n} EXISTS").as_bytes()),
                Update::Flags { seq, uid, flags, modseq } => {
                    let mut line = format!("{seq} FETCH (UID {uid} FLAGS ").into_bytes();
                    let recent = self.selected.as_ref().is_some_and(|sel| sel.is_recent(uid));
                    response::flags_recent(&mut line, &flags, recent);
                    if self.condstore {
                        line.extend_from_slice(format!(" MODSEQ ({modseq})").as_bytes());
                    }
                    line.push(b')');
                    self.untagged(&line);
                }
            }
        }
    }
}

/// Looks for \Recent messages (RFC 3501 §2.3.2) up to the end of the view:
/// with the mailbox selected read-write, claims them in the store so that
/// no other session sees them as recent; with EXAMINE, takes the unclaimed
/// ones without claiming. IMAP4rev2 has no \Recent (RFC 9051 appendix
/// E): such a session claims nothing and sees nothing recent.
pub(crate) async fn notice_recent(island: &atoll_store::Island, sel: &mut Selected, rev2: bool) {
    let Some(upto) = sel.recent_to_claim() else { return };
    let from = if rev2 {
        Ok(i64::from(upto))
    } else if sel.read_only {
        island.first_recent_uid(&sel.mailbox).await
    } else {
        island.claim_recent(&sel.mailbox, i64::from(upto)).await
    };
    match from {
        Ok(from) => sel.add_recent(from, upto),
        Err(e) => {
            tracing::warn!(error = %e, "imap: claiming \\Recent failed");
            sel.add_recent(i64::from(upto), upto);
        }
    }
}
