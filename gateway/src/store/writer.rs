//! The fjall store's single writer: every change runs as a job on one
//! thread, which is both the lock (jobs never interleave, so a job's reads
//! and writes are one atomic step) and the group commit (the jobs that
//! queued while the last sync ran are applied together, then synced once).
//!
//! A job that asks for durability is answered after the journal is synced
//! (`fdatasync`); one that does not is answered as soon as it is applied,
//! and reaches disk with the next sync. Async callers never block on the
//! journal: they wait on a channel while the writer thread does the IO.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Error;
use super::fjall_tables::Tables;

/// Called once the journal sync that covers a job is done (or failed).
type Reply = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// A change to apply on the writer thread.
struct Job {
    /// Answer only after the journal is synced.
    durable: bool,
    /// Applies the change and returns how to answer the caller.
    run: Box<dyn FnOnce(&Tables) -> Reply + Send>,
}

/// The writer thread and the queue to it.
#[derive(Debug)]
pub(super) struct Writer {
    /// Jobs; `None` once closed.
    queue: Option<mpsc::Sender<Job>>,
    /// Joined on drop, so the database is synced and closed with the store.
    thread: Option<JoinHandle<()>>,
}

/// Jobs applied between two syncs at most.
const MAX_JOBS_PER_SYNC: usize = 1024;

/// How long applied but unsynced changes may wait for a sync of their own
/// when no durable job comes along to carry them.
const SYNC_EVERY: Duration = Duration::from_secs(1);

fn sync(tables: &Tables, mode: fjall::PersistMode) -> Result<(), String> {
    tables.db.persist(mode).map_err(|e| e.to_string())
}

/// Applies one job. A job that panics fails its own caller only (its reply
/// is dropped, which the caller sees as an error), not the writer.
fn apply(tables: &Tables, job: Job, waiting: &mut Vec<Reply>) {
    let durable = job.durable;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(tables))) {
        Ok(reply) if durable => waiting.push(reply),
        Ok(reply) => reply(Ok(())),
        Err(_) => tracing::error!("a store write panicked; its caller gets an error"),
    }
}

fn run(tables: &Tables, queue: &mpsc::Receiver<Job>) {
    let mut waiting: Vec<Reply> = Vec::new();
    // Applied, handed to the OS, not yet synced: since when.
    let mut unsynced: Option<Instant> = None;
    loop {
        let first = match queue.recv_timeout(SYNC_EVERY) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if unsynced.take().is_some()
                    && let Err(error) = sync(tables, fjall::PersistMode::SyncData)
                {
                    tracing::error!(%error, "cannot sync the journal");
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut next = Some(first);
        let mut applied = 0;
        while let Some(job) = next {
            apply(tables, job, &mut waiting);
            applied += 1;
            // Bounded, so a steady stream of jobs cannot hold off the sync
            // that durable ones wait for.
            next = if applied < MAX_JOBS_PER_SYNC {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        let since = *unsynced.get_or_insert_with(Instant::now);
        if waiting.is_empty() && since.elapsed() < SYNC_EVERY {
            // Handed to the OS at once, so a killed process loses none of
            // it; synced within `SYNC_EVERY` even if no durable job comes.
            if let Err(error) = sync(tables, fjall::PersistMode::Buffer) {
                tracing::error!(%error, "cannot write the journal");
            }
            continue;
        }
        let synced = sync(tables, fjall::PersistMode::SyncData);
        unsynced = None;
        if let Err(error) = &synced {
            tracing::error!(%error, "cannot sync the journal");
        }
        for reply in waiting.drain(..) {
            reply(synced.as_ref().map(|_| ()).map_err(String::as_str));
        }
    }
    // Closing: what was applied but never asked to be durable is synced
    // too, so a clean shutdown loses nothing.
    if let Err(error) = sync(tables, fjall::PersistMode::SyncData) {
        tracing::error!(%error, "cannot sync the journal on close");
    }
}

impl Writer {
    /// Starts the writer thread over `tables`.
    pub(super) fn start(tables: Tables) -> Result<Self, Error> {
        let (queue, jobs) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("hookgate-writer".into())
            .spawn(move || run(&tables, &jobs))
            .map_err(|e| Error::Durability(e.to_string()))?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Runs `change` on the writer thread; with `durable`, answers once the
    /// journal holding it is synced.
    pub(super) async fn apply<T, F>(&self, durable: bool, change: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Tables) -> Result<T, Error> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let run = Box::new(move |tables: &Tables| -> Reply {
            let outcome = change(tables);
            Box::new(move |synced: Result<(), &str>| {
                let answer = match (outcome, synced) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Err(error), _) => Err(error),
                    (Ok(_), Err(error)) => Err(Error::Durability(error.to_owned())),
                };
                let _ = tx.send(answer);
            })
        });
        self.queue
            .as_ref()
            .ok_or(Error::Closed)?
            .send(Job { durable, run })
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
