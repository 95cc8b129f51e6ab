//! Evidence files in a local folder: `<root>/<first two hex digits>/<sha256>`.
//!
//! A file is written to a temporary name in its final directory, synced,
//! renamed into place, and the directory synced, before `put` answers: a
//! file under its final name is always whole, even after a power cut.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use pollwatch_domain::evidence::BlobHash;

use crate::BlobError;

/// Evidence files on the local disk, named by their SHA-256.
#[derive(Debug)]
pub struct LocalBlobs {
    /// `<data_dir>/blobs`; created on the first upload.
    root: PathBuf,
}

impl LocalBlobs {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The directory all blobs live under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file with this hash lives (or would).
    pub fn path(&self, hash: &BlobHash) -> PathBuf {
        self.root.join(&hash.as_str()[..2]).join(hash.as_str())
    }

    /// Store `bytes` under `hash`, durably, all or nothing: when this
    /// answers `Ok`, the whole file is on disk under its final name.
    pub(crate) async fn put(&self, hash: &BlobHash, bytes: Bytes) -> Result<(), BlobError> {
        let root = self.root.clone();
        let path = self.path(hash);
        let at = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&root, &path, &bytes))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
            .map_err(|e| BlobError::io(&at, e))
    }

    /// The file's bytes; `None` when there is no such file.
    pub(crate) async fn get(&self, hash: &BlobHash) -> Result<Option<Bytes>, BlobError> {
        let path = self.path(hash);
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::io(&path, e)),
        }
    }

    pub(crate) async fn exists(&self, hash: &BlobHash) -> bool {
        tokio::fs::try_exists(self.path(hash))
            .await
            .unwrap_or(false)
    }

    /// Remove what interrupted uploads left: temporary files (named by
    /// [`write_atomically`]) under the blob directories. Called when the
    /// server starts, before any upload of its own can be under way; a
    /// recorded blob is never a temporary file, so nothing of value goes.
    /// Answers how many files and bytes were removed.
    pub fn remove_stale_temporaries(&self) -> io::Result<(usize, u64)> {
        let mut removed = (0, 0);
        let shards = match std::fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(e),
        };
        for shard in shards {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(shard.path())? {
                let entry = entry?;
                if !entry.file_type()?.is_file() || !is_temporary(&entry.file_name()) {
                    continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => {
                        removed.0 += 1;
                        removed.1 += size;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

/// The name [`write_atomically`] gives a file while it is written:
/// `.<sha256>.<16 hex digits>.tmp`.
fn is_temporary(name: &std::ffi::OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    match inner.split_once('.') {
        Some((hash, nonce)) => {
            BlobHash::parse(hash).is_ok()
                && nonce.len() == 16
                && nonce.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// Temporary file in the final directory, under a name of its own (so
/// two uploads of one file never write into each other), written and synced, renamed over
/// the final name (atomic on POSIX), then the directory synced so the
/// rename itself survives a power cut. Directories created on the way are
/// synced into their parents too. On any error the temporary file is
/// removed, so a refused or failed upload leaves nothing behind.
fn write_atomically(root: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a blob path has a directory"))?;
    create_dir_synced(root)?;
    create_dir_synced(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other("a blob path has a file name"))?;
    let tmp = dir.join(format!(
        ".{name}.{}.tmp",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let written = (|| {
        let mut file = private_file_options().open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Create `dir` (and its parents) if absent, owner-only, and make each new
/// entry durable in its parent.
fn create_dir_synced(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dir_synced(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => {}
        // Another upload created it first.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// Evidence can say where a volunteer was: readable by the server's user only.
fn private_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Elsewhere a directory cannot be opened to sync it; the rename is as
/// durable as the platform makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
