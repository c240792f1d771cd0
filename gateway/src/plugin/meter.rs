//! What an invocation is charged for, and the deadline that holds through
//! host calls.
//!
//! An invocation runs as a future (wasmtime's async support: the guest runs
//! on a fiber, a host call that waits, such as a WASI sleep or poll, awaits
//! instead of blocking the thread). Its time limit is charged with:
//!
//! - the CPU time the thread spent while the future was being polled (the
//!   guest running, and the host's work inside its calls), read from the
//!   thread's CPU clock around each poll and at each epoch tick; and
//! - the wall time the future waited in a host call (a sleep counts).
//!
//! Not charged: time the future waited to be polled again after the guest
//! yielded (every epoch tick, so a long call shares its worker), and time
//! the thread was preempted. So a plugin does not time out because a
//! neighbour took the cores, and a sleeping plugin cannot outlast its limit.
//!
//! What this is not: the memory limit (`limits.rs`) or the pool slot
//! (`invoke.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use wasmtime::UpdateDeadline;

/// Where the current poll's charge starts from.
#[derive(Debug, Clone, Copy)]
enum Began {
    /// The thread's CPU clock.
    Cpu(Duration),
    /// The wall clock, where the thread's CPU clock cannot be read: a
    /// limit must hold either way.
    Wall(Instant),
}

/// The calling thread's CPU clock.
fn thread_cpu() -> Option<Duration> {
    ThreadTime::try_now().ok().map(|t| t.as_duration())
}

/// The charge of one invocation, shared by its future and its store's epoch
/// callback.
#[derive(Debug)]
pub(crate) struct Meter {
    /// The limit the charge is held to.
    limit: Duration,
    /// Updated at every poll and every tick.
    state: Mutex<Charge>,
}

#[derive(Debug, Default)]
struct Charge {
    /// CPU time of the polls that ended.
    cpu: Duration,
    /// Wall time spent waiting in host calls.
    waited: Duration,
    /// The thread's CPU clock (or, where it cannot be read, the wall
    /// clock) when the current poll began; the epoch callback runs inside
    /// the poll, on the same thread.
    poll_began: Option<Began>,
    /// When the current wait in a host call began.
    wait_began: Option<Instant>,
    /// Whether the guest yielded at a tick during the current poll (then the
    /// pending that follows is not a host wait).
    yielded: bool,
}

impl Charge {
    fn running(&self) -> Duration {
        match self.poll_began {
            Some(Began::Cpu(began)) => {
                thread_cpu().map_or(Duration::ZERO, |now| now.saturating_sub(began))
            }
            Some(Began::Wall(began)) => began.elapsed(),
            None => Duration::ZERO,
        }
    }

    fn total(&self) -> Duration {
        let waiting = self.wait_began.map(|w| w.elapsed()).unwrap_or_default();
        self.cpu + self.running() + self.waited + waiting
    }
}

impl Meter {
    pub(crate) fn new(limit: Duration) -> Arc<Self> {
        Arc::new(Self {
            limit,
            state: Mutex::new(Charge::default()),
        })
    }

    fn charge(&self) -> std::sync::MutexGuard<'_, Charge> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store's epoch callback, called inside a poll every tick: traps
    /// once the charge reaches the limit, otherwise yields so that other
    /// tasks on this worker run.
    pub(crate) fn tick(&self) -> UpdateDeadline {
        let mut charge = self.charge();
        if charge.total() >= self.limit {
            return UpdateDeadline::Interrupt;
        }
        charge.yielded = true;
        UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
    }

    /// Everything charged so far.
    pub(crate) fn total(&self) -> Duration {
        self.charge().total()
    }

    /// The CPU time charged so far.
    pub(crate) fn cpu(&self) -> Duration {
        let charge = self.charge();
        charge.cpu + charge.running()
    }

    /// The limit.
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }
}

/// An invocation's future under its meter: `None` if it was cut off while
/// waiting in a host call, which the epoch callback cannot see.
pub(crate) struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Arc<Meter>,
    /// Fires when a host wait would reach the limit.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<F> Metered<F> {
    pub(crate) fn new(meter: Arc<Meter>, inner: F) -> Self {
        Self {
            inner: Box::pin(inner),
            meter,
            deadline: None,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        {
            let mut charge = this.meter.charge();
            if let Some(began) = charge.wait_began.take() {
                charge.waited += began.elapsed();
            }
            if charge.total() >= this.meter.limit {
                return Poll::Ready(None);
            }
            charge.poll_began =
                Some(thread_cpu().map_or_else(|| Began::Wall(Instant::now()), Began::Cpu));
            charge.yielded = false;
        }
        let polled = this.inner.as_mut().poll(cx);
        let mut charge = this.meter.charge();
        let ran = charge.running();
        charge.cpu += ran;
        charge.poll_began = None;
        match polled {
            Poll::Ready(output) => Poll::Ready(Some(output)),
            Poll::Pending if charge.yielded => {
                this.deadline = None;
                Poll::Pending
            }
            Poll::Pending => {
                // Waiting in a host call: the wait is charged, and a timer
                // ends it at the limit.
                charge.wait_began = Some(Instant::now());
                let left = this.meter.limit.saturating_sub(charge.total());
                drop(charge);
                let at = tokio::time::Instant::now() + left;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                deadline.as_mut().reset(at);
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            }
        }
    }
}
