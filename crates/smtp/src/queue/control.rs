//! Requests from `atoll queue` and `atoll list` to the queue of a running
//! node: one file per request in `<spool>/control/` (`retry-<id>`,
//! `retry-all`, `remove-<id>`; for held posts `approve-<id>`,
//! `discard-<id>` and `reject-<id>`, whose content is the reason given).
//! The queue carries them out when it starts (before it delivers
//! anything) and then within a second, and removes each file as it takes
//! it. Files rather than a socket: the command works the same whether the
//! node runs or not, and needs nothing but the data directory.

use std::io;
use std::path::{Path, PathBuf};

use super::spool::{format_id, parse_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Try this message now rather than at its next retry.
    Retry(u64),
    RetryAll,
    /// Drop this message from the queue, undelivered.
    Remove(u64),
    /// A moderator approved this held post: distribute it.
    Approve(u64),
    /// A moderator refused this held post: the sender gets a notice with
    /// the reason, if one was given.
    Reject(u64, Option<String>),
    /// A moderator dropped this held post without a word (spam).
    Discard(u64),
}

/// A reason is one line of text in a notice; longer ones are cut.
const MAX_REASON: usize = 1000;

fn dir(spool: &Path) -> PathBuf {
    spool.join("control")
}

impl Request {
    fn file_name(&self) -> String {
        match self {
            Request::Retry(id) => format!("retry-{}", format_id(*id)),
            Request::RetryAll => "retry-all".to_string(),
            Request::Remove(id) => format!("remove-{}", format_id(*id)),
            Request::Approve(id) => format!("approve-{}", format_id(*id)),
            Request::Reject(id, _) => format!("reject-{}", format_id(*id)),
            Request::Discard(id) => format!("discard-{}", format_id(*id)),
        }
    }

    /// What the file holds: the reason of a rejection.
    fn content(&self) -> &[u8] {
        match self {
            Request::Reject(_, Some(reason)) => reason.as_bytes(),
            _ => b"",
        }
    }

    /// The request a file names; `content` is read only for those that
    /// carry text.
    fn parse(name: &str, content: impl FnOnce() -> Option<Vec<u8>>) -> Option<Request> {
        if name == "retry-all" {
            return Some(Request::RetryAll);
        }
        let (verb, id) = name.split_once('-')?;
        let id = parse_id(id)?;
        match verb {
            "retry" => Some(Request::Retry(id)),
            "remove" => Some(Request::Remove(id)),
            "approve" => Some(Request::Approve(id)),
            "discard" => Some(Request::Discard(id)),
            "reject" => {
                let text = String::from_utf8_lossy(&content()?).into_owned();
                Some(Request::Reject(id, clean_reason(&text)))
            }
            _ => None,
        }
    }
}

/// A reason as a notice can carry it: one line, no control characters,
/// at most [`MAX_REASON`] characters; None when nothing is left.
fn clean_reason(text: &str) -> Option<String> {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!line.is_empty()).then_some(line)
}

/// Leaves `request` for the queue of the spool in `spool`. The file is
/// written under a name the queue ignores and then renamed, so the queue
/// never reads half a reason.
pub fn submit(spool: &Path, request: &Request) -> io::Result<()> {
    let dir = dir(spool);
    std::fs::create_dir_all(&dir)?;
    let name = request.file_name();
    let partial = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&partial, request.content())?;
    std::fs::rename(&partial, dir.join(name))
}

/// The requests waiting, each removed from the folder as it is read; a
/// file that is not a request is left alone.
pub(crate) fn take(spool: &Path) -> Vec<Request> {
    let Ok(entries) = std::fs::read_dir(dir(spool)) else { return Vec::new() };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let path = e.path();
        let Some(request) = name.to_str().and_then(|n| Request::parse(n, || std::fs::read(&path).ok())) else {
            continue;
        };
        if std::fs::remove_file(&path).is_ok() {
            out.push(request);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_once() {
        let tmp = tempfile::tempdir().unwrap();
        let all = [
            Request::Retry(0xAB),
            Request::RetryAll,
            Request::Remove(42),
            Request::Approve(7),
            Request::Reject(8, Some("off topic".into())),
            Request::Reject(9, None),
            Request::Discard(10),
        ];
        for r in &all {
            submit(tmp.path(), r).unwrap();
        }
        std::fs::write(tmp.path().join("control/notes.txt"), b"x").unwrap();
        let mut got = take(tmp.path());
        got.sort_by_key(|r| format!("{r:?}"));
        let mut want = all.to_vec();
        want.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(got, want);
        assert!(take(tmp.path()).is_empty(), "each request is carried out once");
        assert!(tmp.path().join("control/notes.txt").exists());
    }

    #[test]
    fn a_reason_is_one_clean_line() {
        assert_eq!(clean_reason("  off\r\nBcc: x@y\ttopic "), Some("off Bcc: x@y topic".into()));
        assert_eq!(clean_reason(" \r\n "), None);
        assert_eq!(clean_reason(&"x".repeat(5000)).map(|r| r.len()), Some(MAX_REASON));
    }
}
