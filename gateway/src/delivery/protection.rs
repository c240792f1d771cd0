//! Endpoint protection, per endpoint and in memory: the rate limit (a GCRA
//! [`Pacer`] that hands held-back deliveries later times instead of failing
//! them; on a shared store the store keeps it, for the cluster), the
//! circuit breaker (open after a run of failures, one probe per interval,
//! disable after a long failing period), and the disabled flag.
//!
//! Pure apart from the locks: the time is an argument, so tests drive it.
//! The state survives configuration changes (the registry keeps one per
//! endpoint name); the disabled flag is also persisted by the store.

use crate::clock::millis;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Semaphore;

use super::alerts::{FailureWindow, WindowCounts};
use crate::config::{BreakerConfig, FailureAlert};
use crate::store::{Pace, Pacer};

/// Whether an attempt may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send it.
    Go,
    /// Hold it back until this time (Unix milliseconds).
    HoldUntil(u64),
}

/// What recording an attempt's outcome decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Disable the endpoint, for this reason: it has been failing for longer
    /// than `disable_after`.
    pub disable: Option<String>,
    /// A probe succeeded and closed the open circuit: the deliveries it held
    /// back may go now.
    pub recovered: bool,
    /// This failure opened the circuit.
    pub opened: bool,
}

/// Why an endpoint is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    /// When (Unix milliseconds).
    pub at: u64,
    /// Why.
    pub reason: String,
}

/// The circuit breaker as an operator sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreakerView {
    /// Failed attempts in a row.
    pub failures: u32,
    /// When the current run of failures began.
    pub failing_since: Option<u64>,
    /// When the next probe may go, while open.
    pub open_until: Option<u64>,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    failing_since: Option<u64>,
    /// Set while open: when the next probe may go.
    next_probe: Option<u64>,
    /// A probe is out.
    probing: bool,
}

/// One endpoint's run-time protection state.
#[derive(Debug)]
pub struct EndpointState {
    /// Attempts in flight at once: a slow endpoint only slows itself.
    pub slots: Arc<Semaphore>,
    /// The size `slots` was made with.
    pub max_in_flight: usize,
    disabled: Mutex<Option<Disabled>>,
    pacer: Mutex<Pacer>,
    breaker: Mutex<Breaker>,
    /// Deliveries held back while the circuit was open, to send at once
    /// when a probe closes it rather than at their held-until time.
    held: Mutex<HashSet<String>>,
    /// Attempts in the current failure-alert window.
    window: Mutex<FailureWindow>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EndpointState {
    /// Fresh state allowing `max_in_flight` attempts at once.
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            disabled: Mutex::new(None),
            pacer: Mutex::new(Pacer::default()),
            breaker: Mutex::new(Breaker::default()),
            held: Mutex::new(HashSet::new()),
            window: Mutex::new(FailureWindow::default()),
        }
    }

    /// Fresh state with another concurrency limit, keeping the disabled
    /// flag.
    pub fn resized(&self, max_in_flight: usize) -> Self {
        let state = Self::new(max_in_flight);
        *lock(&state.disabled) = self.disabled();
        state
    }

    /// Why the endpoint is disabled, if it is.
    pub fn disabled(&self) -> Option<Disabled> {
        lock(&self.disabled).clone()
    }

    /// Disables it; false if it already was.
    pub fn disable(&self, at: u64, reason: impl Into<String>) -> bool {
        let mut disabled = lock(&self.disabled);
        if disabled.is_some() {
            return false;
        }
        *disabled = Some(Disabled {
            at,
            reason: reason.into(),
        });
        true
    }

    /// Enables it and closes its breaker.
    pub fn enable(&self) {
        *lock(&self.disabled) = None;
        *lock(&self.breaker) = Breaker::default();
    }

    /// The breaker's state.
    pub fn breaker(&self) -> BreakerView {
        let breaker = lock(&self.breaker);
        BreakerView {
            failures: breaker.failures,
            failing_since: breaker.failing_since,
            open_until: breaker.next_probe,
        }
    }

    /// Whether the breaker lets an attempt start at `now`: while open, one
    /// probe per interval. A [`Gate::Go`] while open reserves the probe: the
    /// caller then paces the attempt ([`Self::pace`] or the shared store's
    /// pacer), gives the probe back with [`Self::probe_held`] if the rate
    /// limit holds it, and otherwise reports the outcome with
    /// [`Self::record`].
    pub fn admit_breaker(&self, now: u64, breaker: &BreakerConfig) -> Gate {
        let mut state = lock(&self.breaker);
        if let Some(next_probe) = state.next_probe {
            if now < next_probe {
                return Gate::HoldUntil(next_probe);
            }
            if state.probing {
                let later = now.saturating_add(millis(breaker.probe_interval));
                return Gate::HoldUntil(next_probe.max(later));
            }
            state.probing = true;
        }
        Gate::Go
    }

    /// Paces an attempt in memory, for a store only this node uses.
    pub fn pace(&self, now: u64, interval: u64) -> Pace {
        lock(&self.pacer).admit(now, interval)
    }

    /// An attempt the breaker admitted was held back by the rate limit: a
    /// held probe is no probe, so the next admitted attempt may be one.
    pub fn probe_held(&self) {
        let mut state = lock(&self.breaker);
        if state.next_probe.is_some() {
            state.probing = false;
        }
    }

    /// Remembers a delivery held back while the circuit is open, so that
    /// [`Self::take_held`] hands it out when a probe closes it.
    pub fn held_by_breaker(&self, delivery_id: &str) {
        lock(&self.held).insert(delivery_id.to_owned());
    }

    /// The deliveries held back while the circuit was open; forgets them.
    pub fn take_held(&self) -> Vec<String> {
        lock(&self.held).drain().collect()
    }

    /// Counts an attempt for the endpoint's failure alert; the window's
    /// counts when this attempt crossed its threshold (once per window).
    pub(super) fn count_attempt(
        &self,
        now: u64,
        failed: bool,
        alert: &FailureAlert,
    ) -> Option<WindowCounts> {
        lock(&self.window).count(now, failed, alert)
    }

    /// Ends an admitted attempt whose outcome says nothing about the
    /// endpoint (it went to a per-message target): a probe it was is no
    /// longer out, and nothing else changes.
    pub fn record_unjudged(&self) -> Recorded {
        lock(&self.breaker).probing = false;
        Recorded::default()
    }

    /// Records an attempt's outcome: whether to disable the endpoint (it has
    /// been failing for longer than `disable_after`), and whether a probe
    /// just closed the circuit.
    pub fn record(&self, now: u64, success: bool, config: &BreakerConfig) -> Recorded {
        let mut state = lock(&self.breaker);
        state.probing = false;
        if success {
            let recovered = state.next_probe.is_some();
            *state = Breaker::default();
            return Recorded {
                disable: None,
                recovered,
                opened: false,
            };
        }
        state.failures = state.failures.saturating_add(1);
        let since = *state.failing_since.get_or_insert(now);
        if config.failures == 0 || state.failures < config.failures {
            return Recorded::default();
        }
        let opened = state.next_probe.is_none();
        state.next_probe = Some(now.saturating_add(millis(config.probe_interval)));
        let failing_for = now.saturating_sub(since);
        let disable = (failing_for >= millis(config.disable_after)).then(|| {
            format!(
                "circuit breaker: {} failed attempts in a row over {}",
                state.failures,
                humantime::format_duration(std::time::Duration::from_millis(failing_for))
            )
        });
        Recorded {
            disable,
            recovered: false,
            opened,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    impl EndpointState {
        /// The breaker, then the in-memory pacer, as the worker combines
        /// them for a store of its own.
        fn admit(&self, now: u64, rate: Option<f64>, breaker: &BreakerConfig) -> Gate {
            if let Gate::HoldUntil(at) = self.admit_breaker(now, breaker) {
                return Gate::HoldUntil(at);
            }
            match rate.map(|rate| self.pace(now, Pacer::interval(rate))) {
                None | Some(Pace::Go) => Gate::Go,
                Some(Pace::HoldUntil(at)) => {
                    self.probe_held();
                    Gate::HoldUntil(at)
                }
            }
        }
    }

    fn breaker(failures: u32) -> BreakerConfig {
        BreakerConfig {
            failures,
            probe_interval: Duration::from_secs(60),
            disable_after: Duration::from_secs(3600),
            hold_schedule: true,
        }
    }

    #[test]
    fn the_rate_limit_spaces_deliveries_and_holds_the_rest_in_order() {
        let state = EndpointState::new(4);
        let off = breaker(0);
        assert_eq!(state.admit(1_000, Some(2.0), &off), Gate::Go);
        assert_eq!(state.admit(1_000, Some(2.0), &off), Gate::HoldUntil(1_500));
        assert_eq!(state.admit(1_000, Some(2.0), &off), Gate::HoldUntil(2_000));
        // The first held one comes due and goes; the next waits its turn.
        assert_eq!(state.admit(1_500, Some(2.0), &off), Gate::Go);
        assert_eq!(state.admit(1_500, Some(2.0), &off), Gate::HoldUntil(2_500));
        assert_eq!(state.admit(2_000, Some(2.0), &off), Gate::Go);
    }

    #[test]
    fn without_a_rate_limit_everything_goes() {
        let state = EndpointState::new(4);
        for _ in 0..100 {
            assert_eq!(state.admit(5, None, &breaker(0)), Gate::Go);
        }
    }

    #[test]
    fn the_breaker_opens_after_a_run_of_failures_and_lets_one_probe_through() {
        let state = EndpointState::new(4);
        let config = breaker(3);
        for t in [0, 10, 20] {
            assert_eq!(state.admit(t, None, &config), Gate::Go);
            // The third failure opens it, once.
            assert_eq!(state.record(t, false, &config).opened, t == 20);
        }
        // Open: held until the probe time.
        assert_eq!(state.admit(30, None, &config), Gate::HoldUntil(60_020));
        // At the probe time one goes; the others wait for the next probe.
        assert_eq!(state.admit(60_020, None, &config), Gate::Go);
        assert_eq!(state.admit(60_020, None, &config), Gate::HoldUntil(120_020));
        // The probe succeeds: closed again, and the held deliveries may go.
        assert_eq!(
            state.record(60_100, true, &config),
            Recorded {
                disable: None,
                recovered: true,
                opened: false,
            }
        );
        assert_eq!(state.admit(60_101, None, &config), Gate::Go);
        assert_eq!(state.breaker(), BreakerView::default());
    }

    #[test]
    fn the_breaker_disables_after_failing_for_longer_than_disable_after() {
        let state = EndpointState::new(4);
        let config = breaker(2);
        assert_eq!(state.record(0, false, &config), Recorded::default());
        assert!(state.record(1_000, false, &config).opened);
        assert_eq!(state.record(1_800_000, false, &config), Recorded::default());
        let reason = state
            .record(3_600_000, false, &config)
            .disable
            .expect("disabled");
        assert!(
            reason.contains("4 failed attempts in a row over 1h"),
            "{reason}"
        );
    }

    #[test]
    fn a_probe_the_rate_limit_holds_back_is_not_counted_as_out() {
        let state = EndpointState::new(4);
        let config = breaker(1);
        assert_eq!(state.admit(0, Some(1.0), &config), Gate::Go);
        assert!(state.record(0, false, &config).opened);
        // The breaker is open until 60 s; at 60 s the pacer is free.
        assert_eq!(state.admit(60_000, Some(1.0), &config), Gate::Go);
        assert_eq!(
            state.admit(60_000, Some(1.0), &config),
            Gate::HoldUntil(120_000)
        );
        assert!(state.record(60_100, true, &config).recovered);
        // Closed: only the rate limit applies now.
        assert_eq!(state.admit(61_000, Some(1.0), &config), Gate::Go);
    }

    #[test]
    fn a_success_resets_the_run() {
        let state = EndpointState::new(4);
        let config = breaker(2);
        assert_eq!(state.record(0, false, &config), Recorded::default());
        assert_eq!(state.record(1, true, &config), Recorded::default());
        assert_eq!(state.record(2, false, &config), Recorded::default());
        assert_eq!(state.admit(3, None, &config), Gate::Go);
    }

    #[test]
    fn deliveries_held_by_the_breaker_are_handed_out_once() {
        let state = EndpointState::new(1);
        state.held_by_breaker("d1");
        state.held_by_breaker("d2");
        state.held_by_breaker("d1");
        let mut held = state.take_held();
        held.sort();
        assert_eq!(held, ["d1", "d2"]);
        assert!(state.take_held().is_empty());
    }

    #[test]
    fn disabling_is_remembered_until_enabled() {
        let state = EndpointState::new(1);
        assert!(state.disable(5, "answered 410 Gone"));
        assert!(!state.disable(6, "again"));
        assert_eq!(state.resized(3).disabled().map(|d| d.at), Some(5));
        state.enable();
        assert_eq!(state.disabled(), None);
    }
}
