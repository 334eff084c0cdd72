//! The island's content-addressed blob store: one file per distinct message
//! body, named by its SHA-256, so a body delivered to many accounts of an
//! island is stored once.
//!
//! Durability is the point: a delivery is acknowledged only after its blob
//! is on stable storage. A blob is written to `tmp/` and renamed to
//! `ab/cd/<hex>`; then the writer waits for a `syncfs` of the store's file
//! system that started after its rename ([`GroupSync`]), which makes the
//! file and its directory entries durable together. One sync serves every
//! writer that finished meanwhile: on the test machines the disk does about
//! 1,500 syncs a second, and a blob with its own fsyncs of file and
//! directories took two or three of them.
//!
//! A crash before the sync may leave a file under its final name that is
//! shorter than its content (never acknowledged, no message refers to it):
//! a writer that finds a blob of the wrong length writes it again.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// The SHA-256 of a blob's content.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    pub fn of(content: &[u8]) -> BlobId {
        let mut id = [0u8; 32];
        id.copy_from_slice(&Sha256::digest(content));
        BlobId(id)
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Lowercase or uppercase hex, exactly 64 digits.
    pub fn from_hex(s: &str) -> Option<BlobId> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut id = [0u8; 32];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(BlobId(id))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn from_bytes(b: &[u8]) -> Option<BlobId> {
        <[u8; 32]>::try_from(b).ok().map(BlobId)
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{op} {}: {source}", path.display())]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error("blob {0} is missing")]
    Missing(BlobId),
    #[error("blob {id} at {} does not match its hash", path.display())]
    Corrupt { id: BlobId, path: PathBuf },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BlobError + 'a {
    move |source| BlobError::Io { op, path: path.to_path_buf(), source }
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
    sync: Arc<GroupSync>,
}

/// Group sync of the blob store's file system: a writer counts itself done
/// once its files are written and renamed into place, then waits for a
/// `syncfs` that started after that. One `syncfs` makes every blob written
/// before it durable, files and directory entries alike, so concurrent
/// deliveries share one sync instead of paying two or three fsyncs each.
#[derive(Debug, Default)]
struct GroupSync {
    /// Writers whose files are in place, and how many of them a finished
    /// sync covers.
    done: AtomicU64,
    synced: AtomicU64,
    running: tokio::sync::Mutex<()>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl BlobStore {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobStore, BlobError> {
        let root = root.into();
        for dir in [root.clone(), root.join("tmp")] {
            fs::DirBuilder::new().recursive(true).mode(0o750).create(&dir).map_err(io("create", &dir))?;
        }
        Ok(BlobStore { root, sync: Arc::default() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, id: BlobId) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    /// Stores `content` durably and returns its id. An existing blob is not
    /// written again: it was made durable when it was first stored.
    pub async fn put(&self, content: impl Into<Arc<[u8]>>) -> Result<BlobId, BlobError> {
        Ok(self.put_many(vec![content.into()]).await?.remove(0))
    }

    /// Stores several blobs durably; ids come back in input order.
    pub async fn put_many(&self, contents: Vec<Arc<[u8]>>) -> Result<Vec<BlobId>, BlobError> {
        let store = self.clone();
        let ids = blocking(move || store.put_many_blocking(contents)).await?;
        self.durable().await?;
        Ok(ids)
    }

    /// Waits until everything this store wrote before the call is on stable
    /// storage (see [`GroupSync`]). A blob that was already there when a
    /// writer looked may have been renamed in by another writer a moment
    /// before and not synced yet: the writer that found it waits here too.
    async fn durable(&self) -> Result<(), BlobError> {
        let me = self.sync.done.fetch_add(1, Ordering::AcqRel) + 1;
        if self.sync.synced.load(Ordering::Acquire) >= me {
            return Ok(());
        }
        let _turn = self.sync.running.lock().await;
        if self.sync.synced.load(Ordering::Acquire) >= me {
            return Ok(());
        }
        let upto = self.sync.done.load(Ordering::Acquire);
        let root = self.root.clone();
        blocking(move || {
            let dir = File::open(&root).map_err(io("open", &root))?;
            rustix::fs::syncfs(&dir).map_err(|e| BlobError::Io { op: "syncfs", path: root.clone(), source: e.into() })
        })
        .await?;
        self.sync.synced.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    fn put_many_blocking(&self, contents: Vec<Arc<[u8]>>) -> Result<Vec<BlobId>, BlobError> {
        let ids: Vec<BlobId> = contents.iter().map(|c| BlobId::of(c)).collect();
        // 1. Every new blob's bytes reach the disk under a temporary name.
        let mut pending: Vec<(PathBuf, PathBuf)> = Vec::new();
        for (content, id) in contents.iter().zip(&ids) {
            let target = self.path(*id);
            let whole = fs::metadata(&target).is_ok_and(|m| m.len() == content.len() as u64);
            if whole || pending.iter().any(|(_, t)| *t == target) {
                continue;
            }
            let tmp = self.write_tmp(content)?;
            pending.push((tmp, target));
        }
        // 2. Renames make them visible whole. The caller then waits for the
        // group sync, which makes the files and the directory entries
        // durable together.
        for (tmp, target) in &pending {
            let dir = target.parent().unwrap_or(&self.root).to_path_buf();
            if !dir.exists() {
                fs::DirBuilder::new().recursive(true).mode(0o750).create(&dir).map_err(io("create", &dir))?;
            }
            // Replacing an identical file that another writer put there in
            // the meantime is harmless: rename is atomic.
            fs::rename(tmp, target).map_err(io("rename into", target))?;
        }
        Ok(ids)
    }

    fn write_tmp(&self, content: &[u8]) -> Result<PathBuf, BlobError> {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let name = format!("{}.{}.{nanos}", std::process::id(), TMP_COUNTER.fetch_add(1, Ordering::Relaxed));
        let tmp = self.root.join("tmp").join(name);
        let mut f =
            OpenOptions::new().write(true).create_new(true).mode(0o640).open(&tmp).map_err(io("create", &tmp))?;
        // No fsync here: the group sync after the rename covers it.
        f.write_all(content).map_err(io("write", &tmp))?;
        Ok(tmp)
    }

    pub async fn get(&self, id: BlobId) -> Result<Vec<u8>, BlobError> {
        let path = self.path(id);
        blocking(move || match File::open(&path) {
            Ok(mut f) => {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf).map_err(io("read", &path))?;
                Ok(buf)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::Missing(id)),
            Err(e) => Err(io("open", &path)(e)),
        })
        .await
    }

    /// Opens a blob for reading in pieces, so that a large body is sent
    /// without holding all of it in memory (POP3 RETR).
    pub async fn reader(&self, id: BlobId) -> Result<tokio::fs::File, BlobError> {
        let path = self.path(id);
        match tokio::fs::File::open(&path).await {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::Missing(id)),
            Err(e) => Err(io("open", &path)(e)),
        }
    }

    /// Reads a blob and checks it against its name (a scrub).
    pub async fn verify(&self, id: BlobId) -> Result<(), BlobError> {
        let content = self.get(id).await?;
        if BlobId::of(&content) == id { Ok(()) } else { Err(BlobError::Corrupt { id, path: self.path(id) }) }
    }

    pub async fn exists(&self, id: BlobId) -> Result<bool, BlobError> {
        let path = self.path(id);
        blocking(move || path.try_exists().map_err(io("stat", &path))).await
    }

    /// Removes a blob no message refers to; a missing one is not an error.
    pub async fn remove(&self, id: BlobId) -> Result<(), BlobError> {
        let path = self.path(id);
        blocking(move || {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(io("remove", &path)(e)),
            }
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            File::open(&dir).and_then(|d| d.sync_all()).map_err(io("fsync directory", &dir))
        })
        .await
    }

    /// Garbage collection, step 1: moves a blob out of sight (to
    /// `tmp/gc-<hex>`) while the transaction that deletes its row is open,
    /// so that a delivery that waited on that row finds the file gone and
    /// writes it again. Idempotent: a blob already parked stays parked.
    pub async fn park(&self, id: BlobId) -> Result<(), BlobError> {
        let (path, parked) = (self.path(id), self.parked_path(id));
        blocking(move || match fs::rename(&path, &parked) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("park", &path)(e)),
        })
        .await
    }

    /// Step 2a, the row is gone for good: the parked file goes too.
    pub async fn drop_parked(&self, id: BlobId) -> Result<(), BlobError> {
        let parked = self.parked_path(id);
        blocking(move || match fs::remove_file(&parked) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &parked)(e)),
        })
        .await
    }

    /// Step 2b, the transaction failed: the blob goes back where it was,
    /// unless a delivery has written it again meanwhile.
    pub async fn unpark(&self, id: BlobId) -> Result<(), BlobError> {
        let (path, parked) = (self.path(id), self.parked_path(id));
        blocking(move || {
            if !parked.exists() {
                return Ok(());
            }
            if path.exists() {
                return fs::remove_file(&parked).map_err(io("remove", &parked));
            }
            fs::rename(&parked, &path).map_err(io("unpark", &path))?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            File::open(&dir).and_then(|d| d.sync_all()).map_err(io("fsync directory", &dir))
        })
        .await
    }

    /// Blobs left parked by a collection that was interrupted.
    pub async fn parked(&self) -> Result<Vec<BlobId>, BlobError> {
        let tmp = self.root.join("tmp");
        blocking(move || {
            let mut out = Vec::new();
            for entry in fs::read_dir(&tmp).map_err(io("read directory", &tmp))? {
                let name = entry.map_err(io("read directory", &tmp))?.file_name();
                if let Some(id) = name.to_str().and_then(|n| n.strip_prefix("gc-")).and_then(BlobId::from_hex) {
                    out.push(id);
                }
            }
            Ok(out)
        })
        .await
    }

    fn parked_path(&self, id: BlobId) -> PathBuf {
        self.root.join("tmp").join(format!("gc-{}", id.to_hex()))
    }

    /// Removes files left in tmp/ by a crash between write and rename, when
    /// older than `age`; returns how many.
    pub async fn clean_tmp(&self, age: Duration) -> Result<usize, BlobError> {
        let tmp = self.root.join("tmp");
        blocking(move || {
            let mut removed = 0;
            for entry in fs::read_dir(&tmp).map_err(io("read directory", &tmp))? {
                let path = entry.map_err(io("read directory", &tmp))?.path();
                // Parked blobs belong to the garbage collector, which
                // decides their fate from the database.
                if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("gc-")) {
                    continue;
                }
                let modified = fs::metadata(&path).and_then(|m| m.modified()).map_err(io("stat", &path))?;
                if modified.elapsed().unwrap_or_default() > age {
                    fs::remove_file(&path).map_err(io("remove", &path))?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }
}

/// File work runs on tokio's blocking pool, off the protocol tasks.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(BlobError::Io { op: "run", path: PathBuf::new(), source: std::io::Error::other(e) }),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path().join("blobs")).unwrap();
        (t, s)
    }

    #[test]
    fn ids() {
        let id = BlobId::of(b"abc");
        assert_eq!(id.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(BlobId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(BlobId::from_hex(&id.to_hex().to_uppercase()), Some(id));
        assert_eq!(BlobId::from_hex("abc"), None);
        assert_eq!(BlobId::from_hex(&"g".repeat(64)), None);
        assert_eq!(BlobId::from_bytes(id.as_bytes()), Some(id));
        assert_eq!(BlobId::from_bytes(&[1, 2]), None);
    }

    #[tokio::test]
    async fn round_trip_and_layout() {
        let (_t, s) = store();
        let id = s.put(b"hello".to_vec()).await.unwrap();
        let hex = id.to_hex();
        assert_eq!(s.path(id), s.root().join(&hex[..2]).join(&hex[2..4]).join(&hex));
        assert_eq!(s.get(id).await.unwrap(), b"hello");
        assert!(s.exists(id).await.unwrap());
        s.verify(id).await.unwrap();
        assert_eq!(fs::read_dir(s.root().join("tmp")).unwrap().count(), 0, "no temporary file left");
    }

    #[tokio::test]
    async fn same_content_is_written_once() {
        let (_t, s) = store();
        let id = s.put(b"same".to_vec()).await.unwrap();
        let before = fs::metadata(s.path(id)).unwrap();
        assert_eq!(s.put(b"same".to_vec()).await.unwrap(), id);
        let after = fs::metadata(s.path(id)).unwrap();
        assert_eq!((before.ino(), before.mtime_nsec()), (after.ino(), after.mtime_nsec()));
    }

    #[tokio::test]
    async fn concurrent_puts() {
        let (_t, s) = store();
        let mut tasks = Vec::new();
        for n in 0..16 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let same = s.put(b"shared body".to_vec()).await.unwrap();
                let own = s.put(format!("body {n}").into_bytes()).await.unwrap();
                (same, own)
            }));
        }
        let mut own = std::collections::HashSet::new();
        for t in tasks {
            let (same, o) = t.await.unwrap();
            assert_eq!(s.get(same).await.unwrap(), b"shared body");
            own.insert(o);
        }
        assert_eq!(own.len(), 16);
        for id in own {
            s.verify(id).await.unwrap();
        }
    }

    #[tokio::test]
    async fn put_many_in_order() {
        let (_t, s) = store();
        let ids = s.put_many(vec![b"a"[..].into(), b"b"[..].into(), b"a"[..].into()]).await.unwrap();
        assert_eq!(ids, [BlobId::of(b"a"), BlobId::of(b"b"), BlobId::of(b"a")]);
        for id in ids {
            assert!(s.exists(id).await.unwrap());
        }
    }

    #[tokio::test]
    async fn missing_corrupt_and_remove() {
        let (_t, s) = store();
        assert!(matches!(s.get(BlobId::of(b"nope")).await, Err(BlobError::Missing(_))));
        let id = s.put(b"precious".to_vec()).await.unwrap();
        fs::write(s.path(id), b"tampered").unwrap();
        assert!(matches!(s.verify(id).await, Err(BlobError::Corrupt { .. })));
        s.remove(id).await.unwrap();
        assert!(!s.exists(id).await.unwrap());
        s.remove(id).await.unwrap();
    }

    #[tokio::test]
    async fn clean_tmp_removes_only_old_leftovers() {
        let (_t, s) = store();
        let old = s.root().join("tmp").join("old");
        let new = s.root().join("tmp").join("new");
        fs::write(&old, b"x").unwrap();
        fs::write(&new, b"y").unwrap();
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
        assert_eq!(s.clean_tmp(Duration::from_secs(3600)).await.unwrap(), 1);
        assert!(!old.exists() && new.exists());
    }

    #[test]
    fn unusable_root_is_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("a-file");
        fs::write(&file, b"").unwrap();
        let err = BlobStore::open(file.join("blobs")).unwrap_err();
        assert!(err.to_string().contains("a-file"), "{err}");
    }
}
