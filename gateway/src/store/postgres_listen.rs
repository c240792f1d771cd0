//! Wake-ups between the nodes of a cluster: a change to the stored objects
//! commits with `NOTIFY` on the schema's channel, and every node keeps one
//! connection of its own that `LISTEN`s on it and wakes its registry's
//! follower at once. A notification sent while a node was not listening is
//! not replayed, so each time the connection starts listening it wakes the
//! follower once to look, and the follower also checks on its own clock.

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

/// Listens for changes to the stored objects until dropped.
#[derive(Debug)]
pub(super) struct Listener {
    /// Woken (one permit kept) on every notification.
    pub(super) changed: Arc<Notify>,
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
        let changed = Arc::new(Notify::new());
        let task = tokio::spawn(listen(options.clone(), changed.clone()));
        Self { changed, task }
    }
}

async fn listen(options: PostgresOptions, changed: Arc<Notify>) {
    let channel = objects_channel(options.schema_name());
    let mut backoff = Duration::from_millis(500);
    loop {
        match listen_once(&options, &channel, &changed).await {
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
async fn listen_once(
    options: &PostgresOptions,
    channel: &str,
    changed: &Arc<Notify>,
) -> Result<(), String> {
    let config = options.driver_config().map_err(|e| e.to_string())?;
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let woken = changed.clone();
    let messages = tokio::spawn(async move {
        let mut stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => woken.notify_one(),
                Ok(_) => {}
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok(())
    });
    client
        .batch_execute(&format!("LISTEN {channel}"))
        .await
        .map_err(|e| e.to_string())?;
    // Listening now. Whatever changed before (while this node was not
    // listening) was not announced to it: wake the follower to look.
    changed.notify_one();
    let ended = messages.await.map_err(|e| e.to_string())?;
    drop(client);
    ended
}
