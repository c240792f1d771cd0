//! A source's inbound rate limit (`rate_limit`, requests per second, in
//! bursts of up to one second's worth): governor's GCRA, in memory, so
//! each node counts the requests it takes.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// One source's limiter.
#[derive(Debug)]
pub(crate) struct Limit {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
    /// The configured rate, for messages.
    rate: f64,
}

impl Limit {
    /// A limiter at `rate` requests per second; `None` for a rate that is
    /// not positive and finite (validation refuses those).
    pub(crate) fn new(rate: f64) -> Option<Self> {
        if !(rate.is_finite() && rate > 0.0) {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
        // One second's worth at once, at least one request.
        let burst = NonZeroU32::new(rate.clamp(1.0, f64::from(u32::MAX)) as u32)?;
        let quota = Quota::with_period(period)?.allow_burst(burst);
        let clock = DefaultClock::default();
        Some(Self {
            limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            rate,
        })
    }

    /// Takes one request, or says how long until one would be taken.
    pub(crate) fn take(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// The configured rate.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_seconds_worth_goes_and_the_next_waits() {
        let limit = Limit::new(5.0).expect("a limit");
        for _ in 0..5 {
            assert_eq!(limit.take(), Ok(()));
        }
        let wait = limit.take().expect_err("over the limit");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
    }

    #[test]
    fn a_rate_below_one_a_second_allows_one_then_waits_its_period() {
        let limit = Limit::new(0.01).expect("a limit");
        assert_eq!(limit.take(), Ok(()));
        let wait = limit.take().expect_err("over the limit");
        assert!(wait > Duration::from_secs(90), "{wait:?}");
    }

    #[test]
    fn a_rate_that_is_not_positive_is_no_limit() {
        assert!(Limit::new(0.0).is_none());
        assert!(Limit::new(f64::NAN).is_none());
    }
}
