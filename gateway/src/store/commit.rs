//! Group commit: callers that need durability queue a waiter; one thread
//! drains every waiter queued so far, fsyncs once, and answers them all. A
//! burst of concurrent ingests costs one fsync, not one each.

use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::Error;

type Waiter = oneshot::Sender<Result<(), String>>;

/// The committer thread and the queue to it.
#[derive(Debug)]
pub(super) struct GroupCommit {
    /// Waiters for the next fsync; `None` once closed.
    queue: Option<mpsc::UnboundedSender<Waiter>>,
    /// Joined on drop, so the database is closed when the store is.
    thread: Option<JoinHandle<()>>,
}

impl GroupCommit {
    pub(super) fn start(db: sled::Db) -> Result<Self, Error> {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Waiter>();
        let thread = std::thread::Builder::new()
            .name("hookgate-commit".into())
            .spawn(move || {
                while let Some(first) = waiting.blocking_recv() {
                    let mut batch = vec![first];
                    while let Ok(next) = waiting.try_recv() {
                        batch.push(next);
                    }
                    let result = db.flush().map(|_| ()).map_err(|e| e.to_string());
                    for waiter in batch {
                        let _ = waiter.send(result.clone());
                    }
                }
            })
            .map_err(|e| Error::from(sled::Error::Io(e)))?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Waits until everything written before this call is on disk.
    pub(super) async fn durable(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .as_ref()
            .ok_or(Error::Closed)?
            .send(tx)
            .map_err(|_| Error::Closed)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(Error::from(sled::Error::Io(std::io::Error::other(message)))),
            Err(_) => Err(Error::Closed),
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
