//! The spool: every accepted message, durable before its 250.
//!
//! An append-only journal of segment files (`<number>.spool`) in one
//! directory. One writer thread appends the records that sessions hand it
//! and makes them durable with a single `fdatasync` per batch: while one
//! sync runs, the next records queue up and go out together with the next
//! one. This is group commit, as in a database's write-ahead log: a
//! message's sender waits for one sync, but the disk does one sync for
//! many messages, so acceptance is not capped by the disk's syncs per
//! second.
//!
//! A message record holds the envelope and the bytes; a done record says
//! that some recipients are finished (delivered, or bounced); a released
//! record lets a held message (a post waiting for a list's moderator) go. On start the
//! segments are read in order and every message with unfinished recipients
//! is queued again. A segment is removed once every message in it is
//! finished and every older segment is gone: done records always sit in the
//! same or a later segment than their message, so removing oldest first
//! (and syncing the directory after) never brings a finished message back.
//!
//! Done records are not waited for: if a crash loses one, the message is
//! delivered again after the restart, and the islands recognise the
//! delivery by its queue id and store it only once.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::record::{self, Decoded, Envelope, Record};

/// Segments grow to about this size before a new one starts.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;
/// A batch stops taking records past this many bytes, so one slow sync
/// does not hold an unbounded amount of memory.
const BATCH_BYTES: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {op}: {source}")]
    Io { op: &'static str, path: PathBuf, source: io::Error },
    #[error("spool write failed: {0}")]
    Write(String),
    #[error("spool writer has stopped")]
    Stopped,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io { op, path: path.to_path_buf(), source }
}

/// A message found in the spool at start: some recipients still to do.
#[derive(Debug, Clone)]
pub struct Spooled {
    pub id: u64,
    pub envelope: Envelope,
    pub body: Arc<[u8]>,
    /// Per recipient of the envelope: finished already.
    pub done: Vec<bool>,
    /// Per recipient: the copy for its outside forwards is made.
    pub forwarded: Vec<bool>,
    /// Per recipient: its delay warning is sent.
    pub warned: Vec<bool>,
    /// A held message: the notice to its moderators here (0) and
    /// elsewhere (1) is written.
    pub noticed: [bool; 2],
}

impl Spooled {
    /// The addresses of the recipients not finished yet.
    pub fn pending(&self) -> Vec<String> {
        self.envelope.recipients.iter().zip(&self.done).filter(|(_, d)| !**d).map(|(r, _)| r.address.clone()).collect()
    }
}

/// The queue id as people see it (logs, `atoll queue`).
pub fn format_id(id: u64) -> String {
    format!("{id:016X}")
}

pub fn parse_id(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

enum Op {
    Message {
        id: u64,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// `reply`, when given, hears once the record is on stable storage.
    Done {
        id: u64,
        bytes: Vec<u8>,
        finished: bool,
        reply: Option<oneshot::Sender<Result<(), String>>>,
    },
    /// A record about a message already written, waited for.
    Note {
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// Handle on the spool; cheap to clone. Dropping every handle stops the
/// writer once it has written what it was given.
#[derive(Clone)]
pub struct Spool {
    tx: mpsc::UnboundedSender<Op>,
    next_id: Arc<AtomicU64>,
    dir: PathBuf,
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir` and returns it with
    /// every message that still has recipients to deliver, oldest first.
    pub fn open(dir: impl Into<PathBuf>, segment_size: u64) -> Result<(Spool, Vec<Spooled>), SpoolError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let scan = scan(&dir)?;
        let mut writer = Writer {
            dir: dir.clone(),
            segment_size,
            current: None,
            next_segment: scan.segments.last().map_or(1, |s| s + 1),
            segments: scan.segments.iter().map(|s| (*s, 0)).collect(),
            location: HashMap::new(),
        };
        for m in &scan.pending {
            writer.location.insert(m.id, m.segment);
            *writer.segments.entry(m.segment).or_default() += 1;
        }
        // Finished segments from before go now; the writer starts a fresh
        // segment, so a torn tail in the last one is never appended to.
        writer.collect();
        writer.rotate().map_err(|e| SpoolError::Write(e.to_string()))?;

        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let next_id = (scan.max_id + 1).max(now);
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("atoll-spool".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err("start writer thread", &dir))?;
        let spool = Spool { tx, next_id: Arc::new(AtomicU64::new(next_id)), dir };
        let pending = scan.pending.into_iter().map(ScannedMessage::into_spooled).collect();
        Ok((spool, pending))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new queue id, unique in this spool (time-based, so it also orders
    /// messages by arrival across restarts).
    pub fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes message `id` (from [`Spool::new_id`]) and returns once it is
    /// on stable storage. With `link`, the message is derived from another
    /// one, and what the link says about that one holds from the same write.
    pub async fn append(
        &self,
        id: u64,
        envelope: &Envelope,
        body: &[u8],
        link: Option<&record::Link>,
    ) -> Result<(), SpoolError> {
        let mut bytes = Vec::with_capacity(body.len() + 256);
        record::encode_message(&mut bytes, id, envelope, body, link);
        let (reply, done) = oneshot::channel();
        self.tx.send(Op::Message { id, bytes, reply }).map_err(|_| SpoolError::Stopped)?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SpoolError::Write(e)),
            Err(_) => Err(SpoolError::Stopped),
        }
    }

    /// Notes that held message `id` is released (approved by a
    /// moderator); returns once that is on stable storage.
    pub async fn release(&self, id: u64) -> Result<(), SpoolError> {
        let mut bytes = Vec::with_capacity(24);
        record::encode_released(&mut bytes, id);
        let (reply, done) = oneshot::channel();
        self.tx.send(Op::Note { bytes, reply }).map_err(|_| SpoolError::Stopped)?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SpoolError::Write(e)),
            Err(_) => Err(SpoolError::Stopped),
        }
    }

    /// Notes that these recipients of message `id` are finished;
    /// `finished` says the whole message is. Not waited for (see the module
    /// documentation).
    pub fn done(&self, id: u64, recipients: &[u16], finished: bool) {
        let mut bytes = Vec::with_capacity(16 + 2 * recipients.len());
        record::encode_done(&mut bytes, id, recipients);
        // A stopped writer means the node is going down; the message is
        // then delivered again after the restart, and stored once.
        let _ = self.tx.send(Op::Done { id, bytes, finished, reply: None });
    }

    /// Like [`Spool::done`], but returns once the record is on stable
    /// storage: for deliveries that a retry would repeat (mail handed to
    /// another domain's server cannot be taken back).
    pub async fn done_durable(&self, id: u64, recipients: &[u16], finished: bool) -> Result<(), SpoolError> {
        let mut bytes = Vec::with_capacity(16 + 2 * recipients.len());
        record::encode_done(&mut bytes, id, recipients);
        let (reply, synced) = oneshot::channel();
        self.tx.send(Op::Done { id, bytes, finished, reply: Some(reply) }).map_err(|_| SpoolError::Stopped)?;
        match synced.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SpoolError::Write(e)),
            Err(_) => Err(SpoolError::Stopped),
        }
    }
}

struct Segment {
    number: u64,
    file: File,
    size: u64,
}

struct Writer {
    dir: PathBuf,
    segment_size: u64,
    current: Option<Segment>,
    next_segment: u64,
    /// Unfinished messages per segment, every segment on disk listed.
    segments: BTreeMap<u64, usize>,
    /// Segment of every unfinished message.
    location: HashMap<u64, u64>,
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:016}.spool"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Writer {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Op>) {
        let mut buf = Vec::new();
        let mut waiters = Vec::new();
        let mut finished = Vec::new();
        while let Some(op) = rx.blocking_recv() {
            if self.current.as_ref().is_none_or(|s| s.size >= self.segment_size)
                && let Err(e) = self.rotate()
            {
                tracing::error!(error = %e, "spool: cannot start a new segment");
            }
            let segment = self.current.as_ref().map_or(0, |s| s.number);
            let mut op = Some(op);
            while let Some(o) = op.take() {
                match o {
                    Op::Message { id, bytes, reply } => {
                        buf.extend_from_slice(&bytes);
                        self.location.insert(id, segment);
                        *self.segments.entry(segment).or_default() += 1;
                        waiters.push(reply);
                    }
                    Op::Done { id, bytes, finished: all, reply } => {
                        buf.extend_from_slice(&bytes);
                        if all {
                            finished.push(id);
                        }
                        waiters.extend(reply);
                    }
                    Op::Note { bytes, reply } => {
                        buf.extend_from_slice(&bytes);
                        waiters.push(reply);
                    }
                }
                if buf.len() < BATCH_BYTES {
                    op = rx.try_recv().ok();
                }
            }
            let result = self.write(&buf).map_err(|e| e.to_string());
            if let Err(e) = &result {
                tracing::error!(error = %e, "spool: write failed");
                // The segment may end in a partial record now: go on in a
                // new one. The failed messages were not acknowledged.
                self.current = None;
            }
            buf.clear();
            for id in finished.drain(..) {
                if let Some(seg) = self.location.remove(&id)
                    && let Some(n) = self.segments.get_mut(&seg)
                {
                    *n = n.saturating_sub(1);
                }
            }
            // Before the replies, so that whoever waited sees the spool as
            // this batch left it (a segment is removed rarely: every 64 MiB).
            self.collect();
            for w in waiters.drain(..) {
                let _ = w.send(result.clone());
            }
        }
        if let Some(s) = &self.current {
            let _ = s.file.sync_data();
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        let Some(s) = self.current.as_mut() else {
            return Err(io::Error::other("no open segment"));
        };
        s.file.write_all(buf)?;
        // fdatasync: the data and the file size, one journal commit.
        s.file.sync_data()?;
        s.size += buf.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let number = self.next_segment;
        let path = segment_path(&self.dir, number);
        let file = OpenOptions::new().create_new(true).append(true).open(&path)?;
        // The new name must survive a crash before anything in it counts.
        sync_dir(&self.dir)?;
        self.next_segment += 1;
        self.segments.insert(number, 0);
        self.current = Some(Segment { number, file, size: 0 });
        Ok(())
    }

    /// Removes finished segments, oldest first, never the current one.
    fn collect(&mut self) {
        let current = self.current.as_ref().map(|s| s.number);
        let mut removed = false;
        while let Some((&number, &live)) = self.segments.iter().next() {
            if live > 0 || Some(number) == current {
                break;
            }
            let path = segment_path(&self.dir, number);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "spool: cannot remove a finished segment");
                break;
            }
            self.segments.remove(&number);
            removed = true;
        }
        if removed && let Err(e) = sync_dir(&self.dir) {
            tracing::warn!(error = %e, "spool: cannot sync the spool directory");
        }
    }
}

struct ScannedMessage {
    id: u64,
    segment: u64,
    envelope: Envelope,
    body: Vec<u8>,
    done: Vec<bool>,
    forwarded: Vec<bool>,
    warned: Vec<bool>,
    noticed: [bool; 2],
}

impl ScannedMessage {
    fn into_spooled(self) -> Spooled {
        Spooled {
            id: self.id,
            envelope: self.envelope,
            body: self.body.into(),
            done: self.done,
            forwarded: self.forwarded,
            warned: self.warned,
            noticed: self.noticed,
        }
    }
}

fn mark(bits: &mut [bool], recipients: &[u16]) {
    for &r in recipients {
        if let Some(b) = bits.get_mut(r as usize) {
            *b = true;
        }
    }
}

struct Scan {
    /// Every segment on disk, ascending.
    segments: Vec<u64>,
    pending: Vec<ScannedMessage>,
    max_id: u64,
}

/// Reads every segment of the spool in `dir` without changing anything:
/// what `atoll queue list` shows when no server runs.
pub fn read(dir: &Path) -> Result<Vec<Spooled>, SpoolError> {
    Ok(scan(dir)?.pending.into_iter().map(ScannedMessage::into_spooled).collect())
}

fn scan(dir: &Path) -> Result<Scan, SpoolError> {
    let mut segments = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Scan { segments, pending: Vec::new(), max_id: 0 });
        }
        Err(e) => return Err(SpoolError::Io { op: "list", path: dir.to_path_buf(), source: e }),
    };
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        if let Some(n) = name.to_str().and_then(|n| n.strip_suffix(".spool")).and_then(|n| n.parse::<u64>().ok()) {
            segments.push(n);
        }
    }
    segments.sort_unstable();

    let mut messages: BTreeMap<u64, ScannedMessage> = BTreeMap::new();
    let mut max_id = 0;
    for &number in &segments {
        let path = segment_path(dir, number);
        let mut bytes = Vec::new();
        File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io_err("read", &path))?;
        let mut at = 0;
        while at < bytes.len() {
            match record::decode(&bytes[at..]) {
                Decoded::Record(r, n) => {
                    at += n;
                    match r {
                        Record::Message { id, envelope, body, link } => {
                            max_id = max_id.max(id);
                            let n = envelope.recipients.len();
                            let (done, forwarded, warned) = (vec![false; n], vec![false; n], vec![false; n]);
                            let m = ScannedMessage {
                                id,
                                segment: number,
                                envelope,
                                body,
                                done,
                                forwarded,
                                warned,
                                noticed: [false; 2],
                            };
                            messages.insert(id, m);
                            // The parent was written earlier, so it is known
                            // here unless it is finished and gone.
                            if let Some(link) = link
                                && let Some(p) = messages.get_mut(&link.parent)
                            {
                                match link.kind {
                                    record::LinkKind::Forwarded => mark(&mut p.forwarded, &link.recipients),
                                    record::LinkKind::Notified => mark(&mut p.done, &link.recipients),
                                    record::LinkKind::Warned => mark(&mut p.warned, &link.recipients),
                                    record::LinkKind::Moderators => mark(&mut p.noticed, &link.recipients),
                                }
                            }
                        }
                        Record::Done { id, recipients } => {
                            if let Some(m) = messages.get_mut(&id) {
                                mark(&mut m.done, &recipients);
                            }
                        }
                        Record::Released { id } => {
                            if let Some(m) = messages.get_mut(&id) {
                                m.envelope.held = false;
                            }
                        }
                    }
                }
                Decoded::Incomplete => {
                    tracing::warn!(segment = %path.display(), offset = at, "spool: segment ends in a partial record (an interrupted write; it was never acknowledged)");
                    break;
                }
                Decoded::Corrupt(why) => {
                    tracing::warn!(segment = %path.display(), offset = at, why, "spool: damaged record; the rest of this segment is ignored");
                    break;
                }
            }
        }
    }
    let pending = messages.into_values().filter(|m| m.done.iter().any(|d| !d)).collect();
    Ok(Scan { segments, pending, max_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::record::EnvelopeRecipient;

    async fn put(spool: &Spool, env: Envelope, body: &[u8]) -> u64 {
        let id = spool.new_id();
        spool.append(id, &env, body, None).await.unwrap();
        id
    }

    fn envelope(n: usize) -> Envelope {
        Envelope {
            sender: "ann@example.net".into(),
            recipients: (0..n).map(|i| EnvelopeRecipient::new(format!("u{i}@example.org"))).collect(),
            arrived: 1_700_000_000,
            envid: None,
            ret: None,
            junk: false,
            remote: false,
            held: false,
        }
    }

    #[tokio::test]
    async fn a_derived_message_marks_its_parent_in_the_same_write() {
        use crate::queue::record::{Link, LinkKind};
        let tmp = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(tmp.path(), DEFAULT_SEGMENT_SIZE).unwrap();
        let parent = put(&spool, envelope(3), b"parent").await;
        for (kind, recipients) in
            [(LinkKind::Forwarded, vec![0]), (LinkKind::Notified, vec![1]), (LinkKind::Warned, vec![2])]
        {
            let id = spool.new_id();
            let link = Link { parent, kind, recipients };
            spool.append(id, &Envelope { remote: true, ..envelope(1) }, b"child", Some(&link)).await.unwrap();
        }
        drop(spool);
        let (_, pending) = Spool::open(tmp.path(), DEFAULT_SEGMENT_SIZE).unwrap();
        assert_eq!(pending.len(), 4, "the parent and its three children");
        let p = pending.iter().find(|m| m.id == parent).unwrap();
        assert_eq!(p.forwarded, [true, false, false]);
        assert_eq!(p.done, [false, true, false]);
        assert_eq!(p.warned, [false, false, true]);
        assert!(pending.iter().filter(|m| m.id != parent).all(|m| m.envelope.remote && &*m.body == b"child"));
    }

    #[tokio::test]
    async fn a_held_message_stays_held_until_its_release_is_written() {
        use crate::queue::record::{Link, LinkKind};
        let tmp = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(tmp.path(), DEFAULT_SEGMENT_SIZE).unwrap();
        let held = put(&spool, Envelope { held: true, ..envelope(1) }, b"post").await;
        let other = put(&spool, Envelope { held: true, ..envelope(1) }, b"another post").await;
        let link = Link { parent: held, kind: LinkKind::Moderators, recipients: vec![0] };
        spool.append(spool.new_id(), &envelope(1), b"notice", Some(&link)).await.unwrap();
        drop(spool);
        let (spool, pending) = Spool::open(tmp.path(), DEFAULT_SEGMENT_SIZE).unwrap();
        let find = |p: &[Spooled], id| p.iter().find(|m| m.id == id).cloned().unwrap();
        let h = find(&pending, held);
        assert!(h.envelope.held, "held across a restart");
        assert_eq!(h.noticed, [true, false], "the notice to the local moderators is written");
        assert_eq!(find(&pending, other).noticed, [false, false]);
        spool.release(held).await.unwrap();
        drop(spool);
        let pending = read(tmp.path()).unwrap();
        assert!(!find(&pending, held).envelope.held, "released");
        assert!(find(&pending, other).envelope.held, "the other one still waits");
    }

    #[tokio::test]
    async fn messages_survive_a_restart_until_done() {
        let tmp = tempfile::tempdir().unwrap();
        let (spool, pending) = Spool::open(tmp.path(), DEFAULT_SEGMENT_SIZE).unwrap();
        assert!(pending.is_empty());
        let a = put(&spool, envelope(2), b"first").await;
        let b = put(&spool, envelope(1), b"second").await;
        assert!(b > a, "ids increase");
        spool.done(a, &[1], false);
        spool.done(b, &[0], true);
        // A message write after the done records: when it is durable, so
        // are they (one file, written in order).
        let c = put(&spool, envelope(1), b"third").await;
        drop(spool);

        let (spool, pending) = Spool::open(tmp.path(), DEFAULT_SEGMENT_SIZE).unwrap();
        let ids: Vec<u64> = pending.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![a, c]);
        assert_eq!(pending[0].done, vec![false, true]);
        assert_eq!(&*pending[0].body, b"first");
        let d = put(&spool, envelope(1), b"fourth").await;
        assert!(d > c, "ids keep increasing after a restart");
    }

    #[tokio::test]
    async fn concurrent_appends_are_all_durable() {
        let tmp = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(tmp.path(), 4096).unwrap();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let spool = spool.clone();
            tasks.push(tokio::spawn(async move { put(&spool, envelope(1), format!("m{i}").as_bytes()).await }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 200);
        drop(spool);
        let pending = read(tmp.path()).unwrap();
        assert_eq!(pending.len(), 200);
        let mut bodies: Vec<String> = pending.iter().map(|m| String::from_utf8(m.body.to_vec()).unwrap()).collect();
        bodies.sort();
        let mut want: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        want.sort();
        assert_eq!(bodies, want);
    }

    #[tokio::test]
    async fn finished_segments_are_removed_oldest_first() {
        let tmp = tempfile::tempdir().unwrap();
        // Tiny segments: every batch starts a new one.
        let (spool, _) = Spool::open(tmp.path(), 1).unwrap();
        let segments = || {
            let mut v: Vec<PathBuf> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
            v.sort();
            v
        };
        let a = put(&spool, envelope(1), b"a").await;
        let b = put(&spool, envelope(1), b"b").await;
        let early = segments();
        assert!(early.len() >= 2);
        // b's segment is finished but a's (older) is not: both stay.
        spool.done(b, &[0], true);
        let _ = put(&spool, envelope(1), b"c").await;
        assert!(early.iter().all(|p| p.exists()), "nothing removed while the oldest is unfinished");
        assert!(read(tmp.path()).unwrap().iter().any(|m| m.id == a));
        spool.done(a, &[0], true);
        let d = put(&spool, envelope(1), b"d").await;
        assert!(early.iter().all(|p| !p.exists()), "finished segments removed, oldest first: {:?}", segments());
        let left: Vec<u64> = read(tmp.path()).unwrap().iter().map(|m| m.id).collect();
        assert!(!left.contains(&a) && !left.contains(&b));
        assert!(left.contains(&d));
    }

    #[tokio::test]
    async fn a_torn_tail_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(tmp.path(), DEFAULT_SEGMENT_SIZE).unwrap();
        let a = put(&spool, envelope(1), b"whole").await;
        drop(spool);
        // Simulate a crash in the middle of the next record.
        let mut seg: Vec<PathBuf> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
        seg.sort();
        let last = seg.iter().rev().find(|p| std::fs::metadata(p).unwrap().len() > 0).unwrap().clone();
        let mut partial = Vec::new();
        record::encode_message(&mut partial, a + 1, &envelope(1), b"never acknowledged", None);
        partial.truncate(partial.len() / 2);
        OpenOptions::new().append(true).open(&last).unwrap().write_all(&partial).unwrap();

        let (spool, pending) = Spool::open(tmp.path(), DEFAULT_SEGMENT_SIZE).unwrap();
        assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a]);
        let b = put(&spool, envelope(1), b"after").await;
        drop(spool);
        let ids: Vec<u64> = read(tmp.path()).unwrap().iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![a, b]);
    }
}
