//! Group commit over the ingest write-ahead log. Ingest appends its record
//! to a shared buffer (under the same lock as its sled transaction) and
//! queues a waiter; one thread drains every waiter queued so far, writes the
//! buffer to the current WAL segment, syncs it once, and answers them all. A
//! burst of concurrent ingests costs one `fdatasync`, not one each, and no
//! sled flush.
//!
//! Every second (or 16 MiB) the segment is closed and a checkpoint thread
//! flushes sled, then deletes the closed segments: by then sled holds
//! everything they recorded. Rare changes that must be durable in sled
//! itself (API objects, disabled endpoints) ask for a full flush.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{Error, wal};

type Waiter = oneshot::Sender<Result<(), String>>;

/// What a caller waits for.
enum Request {
    /// The WAL synced past everything appended before the request.
    Log(Waiter),
    /// sled itself flushed.
    Flush(Waiter),
}

/// A segment is closed after this long...
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// ...or this many bytes.
const SEGMENT_BYTES: u64 = 16 << 20;

/// The committer and checkpoint threads and the queue to them.
#[derive(Debug)]
pub(super) struct GroupCommit {
    /// Records appended since the last write, framed.
    pending: Arc<Mutex<Vec<u8>>>,
    /// Waiters; `None` once closed.
    queue: Option<mpsc::UnboundedSender<Request>>,
    /// Joined on drop, so the files are closed when the store is.
    threads: Vec<JoinHandle<()>>,
}

fn io_error(e: &std::io::Error) -> String {
    e.to_string()
}

struct Committer {
    db: sled::Db,
    dir: PathBuf,
    pending: Arc<Mutex<Vec<u8>>>,
    segment: u64,
    file: File,
    written: u64,
    opened: Instant,
    checkpoints: std::sync::mpsc::Sender<u64>,
}

impl Committer {
    fn open_segment(dir: &Path, n: u64) -> std::io::Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(wal::segment_path(dir, n))?;
        // The new file's directory entry must survive a crash too.
        File::open(dir)?.sync_all()?;
        Ok(file)
    }

    fn write(&mut self) -> Result<(), String> {
        let buffer =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if buffer.is_empty() {
            return Ok(());
        }
        self.file.write_all(&buffer).map_err(|e| io_error(&e))?;
        self.file.sync_data().map_err(|e| io_error(&e))?;
        self.written += buffer.len() as u64;
        Ok(())
    }

    fn maybe_rotate(&mut self) -> Result<(), String> {
        if self.written == 0
            || (self.written < SEGMENT_BYTES && self.opened.elapsed() < CHECKPOINT_EVERY)
        {
            return Ok(());
        }
        let next = self.segment + 1;
        self.file = Self::open_segment(&self.dir, next).map_err(|e| io_error(&e))?;
        let closed = std::mem::replace(&mut self.segment, next);
        self.written = 0;
        self.opened = Instant::now();
        let _ = self.checkpoints.send(closed);
        Ok(())
    }

    fn run(mut self, mut queue: mpsc::UnboundedReceiver<Request>) {
        while let Some(first) = queue.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(next) = queue.try_recv() {
                batch.push(next);
            }
            let mut result = self.write();
            if result.is_ok() && batch.iter().any(|r| matches!(r, Request::Flush(_))) {
                result = self.db.flush().map(|_| ()).map_err(|e| e.to_string());
            }
            for request in batch {
                let (Request::Log(waiter) | Request::Flush(waiter)) = request;
                let _ = waiter.send(result.clone());
            }
            if let Err(error) = self.maybe_rotate() {
                tracing::error!(%error, "cannot start a new WAL segment");
            }
        }
        // Closing: what was appended but not asked for is written too.
        if let Err(error) = self.write() {
            tracing::error!(%error, "cannot write the WAL on close");
        }
    }
}

/// Flushes sled for each closed segment, then deletes the segments it
/// covers.
fn checkpoint(db: &sled::Db, dir: &Path, closed: &std::sync::mpsc::Receiver<u64>) {
    while let Ok(mut segment) = closed.recv() {
        while let Ok(later) = closed.try_recv() {
            segment = later;
        }
        if let Err(error) = db.flush() {
            tracing::error!(%error, "checkpoint: cannot flush the store; the WAL is kept");
            continue;
        }
        match wal::segments(dir) {
            Ok(all) => {
                for n in all.into_iter().filter(|n| *n <= segment) {
                    let _ = std::fs::remove_file(wal::segment_path(dir, n));
                }
            }
            Err(error) => tracing::error!(%error, "checkpoint: cannot list WAL segments"),
        }
    }
}

impl GroupCommit {
    /// Starts writing segment `first` in `dir`.
    pub(super) fn start(db: sled::Db, dir: &Path, first: u64) -> Result<Self, Error> {
        let io = |e: std::io::Error| Error::Sled(sled::Error::Io(e));
        let pending = Arc::new(Mutex::new(Vec::new()));
        let (queue, waiting) = mpsc::unbounded_channel();
        let (checkpoints, closed) = std::sync::mpsc::channel();
        let committer = Committer {
            db: db.clone(),
            dir: dir.to_owned(),
            pending: pending.clone(),
            segment: first,
            file: Committer::open_segment(dir, first).map_err(io)?,
            written: 0,
            opened: Instant::now(),
            checkpoints,
        };
        let checkpoint_dir = dir.to_owned();
        let threads = vec![
            std::thread::Builder::new()
                .name("hookgate-commit".into())
                .spawn(move || committer.run(waiting))
                .map_err(io)?,
            std::thread::Builder::new()
                .name("hookgate-checkpoint".into())
                .spawn(move || checkpoint(&db, &checkpoint_dir, &closed))
                .map_err(io)?,
        ];
        Ok(Self {
            pending,
            queue: Some(queue),
            threads,
        })
    }

    /// The append buffer, locked: ingest holds it across its transaction
    /// and its append, so a record is in the buffer before any other ingest
    /// can see (and de-duplicate against) its message.
    pub(super) fn log(&self) -> MutexGuard<'_, Vec<u8>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn wait(&self, request: impl FnOnce(Waiter) -> Request) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .as_ref()
            .ok_or(Error::Closed)?
            .send(request(tx))
            .map_err(|_| Error::Closed)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(Error::Sled(sled::Error::Io(std::io::Error::other(message)))),
            Err(_) => Err(Error::Closed),
        }
    }

    /// Waits until every record appended before this call is synced.
    pub(super) async fn durable(&self) -> Result<(), Error> {
        self.wait(Request::Log).await
    }

    /// Waits until sled itself has flushed everything written before.
    pub(super) async fn flush(&self) -> Result<(), Error> {
        self.wait(Request::Flush).await
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.queue.take();
        // The committer ends when the queue closes; the checkpointer when the
        // committer (its only sender) is gone.
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
