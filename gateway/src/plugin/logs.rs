//! What a plugin logs during one invocation: its `log` calls and its stdout
//! and stderr, in one buffer capped at the log limit.
//!
//! Writes past the cap are dropped and the buffer is marked truncated; the
//! guest never sees an error for them, so logging can never trap a plugin.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde::Serialize;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Severity of a plugin's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// Something failed.
    Error,
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// The plugin's `log` import.
    Log,
    /// The plugin's standard output.
    Stdout,
    /// The plugin's standard error.
    Stderr,
}

/// One line of plugin output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Severity; stdout is `info` and stderr `warn`.
    pub level: Level,
    /// Which channel the plugin wrote to.
    pub stream: Stream,
    /// The text, lossily decoded as UTF-8.
    pub message: String,
}

/// Everything one invocation logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Logs {
    /// The lines, in order.
    pub lines: Vec<LogLine>,
    /// Whether output was dropped because it went past the limit.
    pub truncated: bool,
}

/// A shared, capped log buffer: the host's `log` import and the stdout and
/// stderr streams all write here.
#[derive(Debug, Clone)]
pub(crate) struct LogSink {
    inner: Arc<Mutex<Buffer>>,
}

#[derive(Debug)]
struct Buffer {
    logs: Logs,
    /// Bytes still allowed.
    remaining: usize,
}

/// Lines one invocation may log, whatever their size: each is a record in
/// the gateway's own log and in the message's history.
pub(crate) const MAX_LINES: usize = 256;

impl LogSink {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Buffer {
                logs: Logs::default(),
                remaining: limit,
            })),
        }
    }

    /// Appends a line, cutting it (at a character boundary) at the limit.
    /// A line costs its bytes and at least one, so empty lines count too;
    /// past [`MAX_LINES`] lines everything is dropped and marked.
    pub(crate) fn push(&self, level: Level, stream: Stream, text: &str) {
        let mut buffer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if buffer.remaining == 0 || buffer.logs.lines.len() >= MAX_LINES {
            buffer.logs.truncated = true;
            return;
        }
        let mut cut = text.len().min(buffer.remaining);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        buffer.remaining -= cut.max(1);
        buffer.logs.truncated |= cut < text.len();
        buffer.logs.lines.push(LogLine {
            level,
            stream,
            message: text[..cut].to_owned(),
        });
    }

    /// Bytes still allowed.
    fn remaining(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remaining
    }

    /// Marks the logs truncated.
    fn mark_truncated(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .logs
            .truncated = true;
    }

    /// Takes what was logged, leaving the buffer empty.
    pub(crate) fn take(&self) -> Logs {
        let mut buffer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut buffer.logs)
    }

    /// A WASI output stream writing into this sink.
    pub(crate) fn stream(&self, stream: Stream) -> StdioSink {
        StdioSink {
            sink: self.clone(),
            stream,
        }
    }
}

/// A plugin's stdout or stderr: each write becomes log lines.
#[derive(Debug, Clone)]
pub(crate) struct StdioSink {
    sink: LogSink,
    stream: Stream,
}

impl StdioSink {
    fn level(&self) -> Level {
        match self.stream {
            Stream::Stderr => Level::Warn,
            Stream::Log | Stream::Stdout => Level::Info,
        }
    }
}

impl IsTerminal for StdioSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StdioSink {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(tokio::io::sink())
    }
}

/// How much one write may carry; the sink caps the total anyway.
const WRITE_PERMIT: usize = 64 << 10;

impl OutputStream for StdioSink {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        // Only what can still be kept is decoded: a huge write past the cap
        // costs no more than a small one.
        let keep = bytes.len().min(self.sink.remaining());
        if keep < bytes.len() {
            self.sink.mark_truncated();
        }
        let text = String::from_utf8_lossy(&bytes[..keep]);
        for line in text.lines().filter(|l| !l.is_empty()) {
            self.sink.push(self.level(), self.stream, line);
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StdioSink {
    async fn ready(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_limit_is_cut_and_marked_truncated() {
        let sink = LogSink::new(10);
        sink.push(Level::Info, Stream::Log, "12345");
        sink.push(Level::Info, Stream::Log, "6789abcdef");
        sink.push(Level::Info, Stream::Log, "more");
        let logs = sink.take();
        let texts: Vec<_> = logs.lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(texts, ["12345", "6789a"]);
        assert!(logs.truncated);
    }

    #[test]
    fn empty_lines_count_and_lines_past_the_line_cap_are_dropped() {
        let sink = LogSink::new(1 << 20);
        for _ in 0..MAX_LINES + 10 {
            sink.push(Level::Info, Stream::Log, "");
        }
        let logs = sink.take();
        assert_eq!(logs.lines.len(), MAX_LINES);
        assert!(logs.truncated);
        let sink = LogSink::new(3);
        for _ in 0..5 {
            sink.push(Level::Info, Stream::Log, "");
        }
        let logs = sink.take();
        assert_eq!(logs.lines.len(), 3, "an empty line costs a byte");
        assert!(logs.truncated);
    }

    #[test]
    fn a_write_past_the_cap_keeps_only_what_fits() {
        let sink = LogSink::new(8);
        let mut stdout = sink.stream(Stream::Stdout);
        stdout
            .write(Bytes::from(vec![b'x'; 24 << 20]))
            .expect("accepted");
        let logs = sink.take();
        assert_eq!(logs.lines.len(), 1);
        assert_eq!(logs.lines[0].message, "xxxxxxxx");
        assert!(logs.truncated);
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let sink = LogSink::new(2);
        sink.push(Level::Info, Stream::Log, "éé");
        let logs = sink.take();
        assert_eq!(logs.lines[0].message, "é");
        assert!(logs.truncated);
    }

    #[test]
    fn stdout_writes_become_lines() {
        let sink = LogSink::new(100);
        let mut out = sink.stream(Stream::Stdout);
        out.write(Bytes::from_static(b"a\nb\n"))
            .expect("write never fails");
        let logs = sink.take();
        assert_eq!(logs.lines.len(), 2);
        assert_eq!(logs.lines[1].stream, Stream::Stdout);
        assert!(!logs.truncated);
    }
}
