//! Wake-ups between the nodes of a cluster, on two channels per schema: a
//! change to the stored objects commits with `NOTIFY` on the objects
//! channel, and work any node may take (a delivery due now that no node
//! holds, a queued message under no lease) on the work channel. Every node
//! keeps one connection of its own that `LISTEN`s on both and wakes its
//! registry's follower, or its delivery loop and pipeline scan, at once. A
//! notification sent while a node was not listening is not replayed, so
//! each time the connection starts listening it wakes both once to look,
//! and both also look on their own clocks.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

use super::postgres_schema::PostgresOptions;

/// The longest a lost listening connection waits before it connects again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The channel the changes of `schema`'s objects are announced on.
pub(super) fn objects_channel(schema: &str) -> String {
    format!("hookgate_objects_{schema}")
}

/// The channel work for any node in `schema` is announced on.
pub(super) fn work_channel(schema: &str) -> String {
    format!("hookgate_work_{schema}")
}

/// Listens for changes to the stored objects and for work until dropped.
#[derive(Debug)]
pub(super) struct Listener {
    /// Woken (one permit kept) on every change to the objects.
    pub(super) changed: Arc<Notify>,
    /// Woken (one permit kept) on every announcement of work.
    pub(super) work: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Starts listening on `options`' database; connects in the
    /// background, again and again with backoff while it cannot.
    pub(super) fn start(options: &PostgresOptions) -> Self {
        let wakes = Wakes {
            changed: Arc::new(Notify::new()),
            work: Arc::new(Notify::new()),
        };
        let (changed, work) = (wakes.changed.clone(), wakes.work.clone());
        let task = tokio::spawn(listen(options.clone(), wakes));
        Self {
            changed,
            work,
            task,
        }
    }
}

/// What the listening connection wakes.
struct Wakes {
    changed: Arc<Notify>,
    work: Arc<Notify>,
}

impl Wakes {
    fn both(&self) {
        self.changed.notify_one();
        self.work.notify_one();
    }
}

async fn listen(options: PostgresOptions, wakes: Wakes) {
    let wakes = Arc::new(wakes);
    let mut backoff = Duration::from_millis(500);
    loop {
        match listen_once(&options, &wakes).await {
            Ok(()) => backoff = Duration::from_millis(500),
            Err(error) => {
                tracing::debug!(%error, "the listening connection failed; polling meanwhile");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One listening connection, until it ends.
async fn listen_once(options: &PostgresOptions, wakes: &Arc<Wakes>) -> Result<(), String> {
    let schema = options.schema_name();
    let (objects, work) = (objects_channel(schema), work_channel(schema));
    let config = options.driver_config().map_err(|e| e.to_string())?;
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let woken = wakes.clone();
    let work_name = work.clone();
    let messages = tokio::spawn(async move {
        let mut stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) if n.channel() == work_name => {
                    woken.work.notify_one();
                }
                Ok(AsyncMessage::Notification(_)) => woken.changed.notify_one(),
                Ok(_) => {}
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok(())
    });
    client
        .batch_execute(&format!("LISTEN {objects}; LISTEN {work}"))
        .await
        .map_err(|e| e.to_string())?;
    // Listening now. Whatever happened before (while this node was not
    // listening) was not announced to it: wake both to look.
    wakes.both();
    let ended = messages.await.map_err(|e| e.to_string())?;
    drop(client);
    ended
}
