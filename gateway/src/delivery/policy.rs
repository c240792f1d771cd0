//! Retry policies: when to try again after a failed attempt. Pure: the
//! number of attempts so far, the jitter draw and any `Retry-After` are
//! arguments.

use std::time::Duration;

use crate::config::RetryConfig;

/// The default schedule of delays between attempts: the first attempt is
/// immediate, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// Jitter: a delay varies by up to this fraction either way.
pub const JITTER: f64 = 0.2;

/// `Retry-After` is honoured up to this long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A validated retry policy.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryPolicy {
    /// Fixed delays; attempts in all = delays + 1.
    Schedule(Vec<Duration>),
    /// `initial * multiplier^n`, capped at `max_delay`, `max_attempts` in all.
    Exponential {
        /// The first retry's delay.
        initial: Duration,
        /// Growth per retry (at least 1).
        multiplier: f64,
        /// The longest delay.
        max_delay: Duration,
        /// Attempts in all, the first included (at least 1).
        max_attempts: u32,
    },
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::Schedule(DEFAULT_SCHEDULE.to_vec())
    }
}

impl RetryPolicy {
    /// From validated config (`config::validate` checked the ranges).
    pub fn from_config(config: &RetryConfig) -> Self {
        if let Some(schedule) = &config.schedule {
            return Self::Schedule(schedule.iter().map(|d| **d).collect());
        }
        let exponential = config.initial_delay.is_some()
            || config.multiplier.is_some()
            || config.max_delay.is_some()
            || config.max_attempts.is_some();
        if !exponential {
            return Self::default();
        }
        let initial = config.initial_delay.unwrap_or(Duration::from_secs(60));
        Self::Exponential {
            initial,
            multiplier: config.multiplier.unwrap_or(2.0).max(1.0),
            max_delay: config
                .max_delay
                .unwrap_or(Duration::from_secs(3600))
                .max(initial),
            max_attempts: config.max_attempts.unwrap_or(5).max(1),
        }
    }

    /// The delay before the next attempt after `attempts` attempts failed, or
    /// `None` when they are exhausted. `jitter` is a draw in `[-1, 1]`;
    /// `retry_after` is the endpoint's `Retry-After`, honoured (up to
    /// [`MAX_RETRY_AFTER`]) when it asks for longer than the policy.
    pub fn next_delay(
        &self,
        attempts: u32,
        jitter: f64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = match self {
            Self::Schedule(delays) => {
                *delays.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?
            }
            Self::Exponential {
                initial,
                multiplier,
                max_delay,
                max_attempts,
            } => {
                if attempts == 0 || attempts >= *max_attempts {
                    return None;
                }
                let exponent = i32::try_from(attempts - 1).unwrap_or(i32::MAX);
                let secs = initial.as_secs_f64() * multiplier.powi(exponent);
                Duration::from_secs_f64(secs.min(max_delay.as_secs_f64()))
            }
        };
        let factor = 1.0 + JITTER * jitter.clamp(-1.0, 1.0);
        let jittered = Duration::from_secs_f64(base.as_secs_f64() * factor);
        Some(match retry_after {
            Some(asked) if asked > jittered => asked.min(MAX_RETRY_AFTER),
            _ => jittered,
        })
    }

    /// Attempts in all before giving up.
    pub fn max_attempts(&self) -> u32 {
        match self {
            Self::Schedule(delays) => u32::try_from(delays.len())
                .unwrap_or(u32::MAX)
                .saturating_add(1),
            Self::Exponential { max_attempts, .. } => *max_attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_default_follows_the_documented_schedule_without_jitter() {
        let policy = RetryPolicy::default();
        let delays: Vec<_> = (1..=8).map(|n| policy.next_delay(n, 0.0, None)).collect();
        assert_eq!(delays[..7], DEFAULT_SCHEDULE.map(Some));
        assert_eq!(delays[7], None, "eight attempts in all");
        assert_eq!(policy.max_attempts(), 8);
    }

    #[test]
    fn roarks_schedule() {
        let policy = RetryPolicy::Schedule(vec![MIN, 10 * MIN, 60 * MIN]);
        assert_eq!(policy.next_delay(1, 0.0, None), Some(MIN));
        assert_eq!(policy.next_delay(3, 0.0, None), Some(60 * MIN));
        assert_eq!(policy.next_delay(4, 0.0, None), None);
    }

    #[test]
    fn callintels_exponential_policy_grows_and_caps() {
        let policy = RetryPolicy::Exponential {
            initial: MIN,
            multiplier: 2.0,
            max_delay: Duration::from_secs(3600),
            max_attempts: 5,
        };
        let delays: Vec<_> = (1..=5).map(|n| policy.next_delay(n, 0.0, None)).collect();
        assert_eq!(
            delays,
            [Some(MIN), Some(2 * MIN), Some(4 * MIN), Some(8 * MIN), None]
        );
        let capped = RetryPolicy::Exponential {
            initial: MIN,
            multiplier: 10.0,
            max_delay: Duration::from_secs(3600),
            max_attempts: 10,
        };
        assert_eq!(
            capped.next_delay(5, 0.0, None),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn jitter_stays_within_twenty_percent_for_every_draw() {
        let policy = RetryPolicy::default();
        for attempt in 1..=7u32 {
            let base = DEFAULT_SCHEDULE[attempt as usize - 1].as_secs_f64();
            for step in 0..=40 {
                let draw = -1.0 + f64::from(step) * 0.05;
                let delay = policy
                    .next_delay(attempt, draw, None)
                    .expect("within schedule");
                let ratio = delay.as_secs_f64() / base;
                assert!(
                    (0.8 - 1e-9..=1.2 + 1e-9).contains(&ratio),
                    "{attempt} {draw}: {ratio}"
                );
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_when_longer_and_bounded() {
        let policy = RetryPolicy::default();
        let asked = Duration::from_secs(120);
        assert_eq!(policy.next_delay(1, 0.0, Some(asked)), Some(asked));
        assert_eq!(
            policy.next_delay(1, 0.0, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(5)),
            "a shorter Retry-After does not shorten the policy"
        );
        assert_eq!(
            policy.next_delay(1, 0.0, Some(Duration::from_secs(7 * 24 * 3600))),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            policy.next_delay(8, 0.0, Some(asked)),
            None,
            "exhausted stays exhausted"
        );
    }

    #[test]
    fn policies_from_config() {
        let config = RetryConfig {
            max_attempts: Some(3),
            ..RetryConfig::default()
        };
        let policy = RetryPolicy::from_config(&config);
        assert_eq!(policy.max_attempts(), 3);
        assert_eq!(
            RetryPolicy::from_config(&RetryConfig::default()),
            RetryPolicy::default()
        );
    }
}
