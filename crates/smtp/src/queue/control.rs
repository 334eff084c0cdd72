//! Requests from `atoll queue` to the queue of a running node: one empty
//! file per request in `<spool>/control/` (`retry-<id>`, `retry-all`,
//! `remove-<id>`). The queue carries them out when it starts (before it
//! delivers anything) and then within a second, and removes each file once
//! done. Files rather than a socket: the command works the same whether
//! the node runs or not, and needs nothing but the data directory.

use std::io;
use std::path::{Path, PathBuf};

use super::spool::{format_id, parse_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Try this message now rather than at its next retry.
    Retry(u64),
    RetryAll,
    /// Drop this message from the queue, undelivered.
    Remove(u64),
}

fn dir(spool: &Path) -> PathBuf {
    spool.join("control")
}

impl Request {
    fn file_name(&self) -> String {
        match self {
            Request::Retry(id) => format!("retry-{}", format_id(*id)),
            Request::RetryAll => "retry-all".to_string(),
            Request::Remove(id) => format!("remove-{}", format_id(*id)),
        }
    }

    fn parse(name: &str) -> Option<Request> {
        if name == "retry-all" {
            return Some(Request::RetryAll);
        }
        if let Some(id) = name.strip_prefix("retry-") {
            return parse_id(id).map(Request::Retry);
        }
        name.strip_prefix("remove-").and_then(parse_id).map(Request::Remove)
    }
}

/// Leaves `request` for the queue of the spool in `spool`.
pub fn submit(spool: &Path, request: Request) -> io::Result<()> {
    let dir = dir(spool);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(request.file_name()), b"")
}

/// The requests waiting, each removed from the folder as it is read; a
/// file that is not a request is left alone.
pub(crate) fn take(spool: &Path) -> Vec<Request> {
    let Ok(entries) = std::fs::read_dir(dir(spool)) else { return Vec::new() };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(request) = name.to_str().and_then(Request::parse) else { continue };
        if std::fs::remove_file(e.path()).is_ok() {
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
        for r in [Request::Retry(0xAB), Request::RetryAll, Request::Remove(42)] {
            submit(tmp.path(), r).unwrap();
        }
        std::fs::write(tmp.path().join("control/notes.txt"), b"x").unwrap();
        let mut got = take(tmp.path());
        got.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(got, [Request::Remove(42), Request::Retry(0xAB), Request::RetryAll]);
        assert!(take(tmp.path()).is_empty(), "each request is carried out once");
        assert!(tmp.path().join("control/notes.txt").exists());
    }
}
