//! Pacing an endpoint's attempts to a rate: the generic cell rate algorithm
//! (GCRA), pure. One node paces in memory with it; nodes sharing a store
//! keep the same state in the store ([`super::Store::pace`]), so the rate
//! holds for the cluster, not per node.

/// Whether an attempt paced to a rate may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send it now.
    Go,
    /// Hold it back until this time (Unix milliseconds).
    HoldUntil(u64),
}

/// One endpoint's pacing state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    /// Theoretical arrival time of the next attempt (Unix milliseconds).
    pub next: u64,
    /// The latest time handed to a held-back attempt: the next held one
    /// gets a later turn, so a backlog is spread out rather than sent back
    /// all at once.
    pub last_hold: u64,
}

/// How far behind the time a backlog's turns may fall and still be kept
/// (milliseconds): late turns catch up in a burst of at most this much.
const MAX_CATCH_UP: u64 = 1_000;

impl Pacer {
    /// Admits an attempt at `now`, or holds it back until its turn, with
    /// `interval` milliseconds between attempts and half an interval of
    /// tolerance either way: a timer that fires a little early still goes,
    /// and one a little late does not push every later turn back (late
    /// turns would otherwise add up, and the rate fall below the limit).
    pub fn admit(&mut self, now: u64, interval: u64) -> Pace {
        let tolerance = interval / 2;
        if now < self.next.saturating_sub(tolerance) {
            let at = self.next.max(self.last_hold.saturating_add(interval));
            self.last_hold = at;
            return Pace::HoldUntil(at);
        }
        let base = if now <= self.next.saturating_add(tolerance) {
            self.next
        } else if self.last_hold >= now {
            // Late while held-back attempts wait for turns already handed
            // out: those turns stand (up to [`MAX_CATCH_UP`] behind), or
            // each late turn would push every later one back and the rate
            // would fall below the limit.
            self.next
                .max(now.saturating_sub(MAX_CATCH_UP.max(interval)))
        } else {
            // Idle for longer than the tolerance: the pace starts again
            // from now.
            now
        };
        self.next = base.saturating_add(interval);
        Pace::Go
    }

    /// The milliseconds between attempts at `rate` per second (at least 1).
    pub fn interval(rate: f64) -> u64 {
        // A validated rate is positive and finite; the cast saturates anyway.
        (1000.0 / rate).ceil().max(1.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_spaced_and_a_backlog_gets_successive_turns() {
        let mut pacer = Pacer::default();
        let interval = Pacer::interval(2.0);
        assert_eq!(interval, 500);
        assert_eq!(pacer.admit(1_000, interval), Pace::Go);
        assert_eq!(pacer.admit(1_000, interval), Pace::HoldUntil(1_500));
        assert_eq!(pacer.admit(1_000, interval), Pace::HoldUntil(2_000));
        // The first held one comes due and goes; the next waits its turn.
        assert_eq!(pacer.admit(1_500, interval), Pace::Go);
        assert_eq!(pacer.admit(1_500, interval), Pace::HoldUntil(2_500));
        assert_eq!(pacer.admit(2_000, interval), Pace::Go);
    }

    #[test]
    fn a_timer_firing_a_little_early_still_goes() {
        let mut pacer = Pacer::default();
        assert_eq!(pacer.admit(1_000, 100), Pace::Go);
        assert_eq!(pacer.admit(1_060, 100), Pace::Go);
        assert_eq!(pacer.admit(1_100, 100), Pace::HoldUntil(1_200));
    }

    #[test]
    fn a_turn_taken_a_little_late_does_not_push_the_later_ones_back() {
        let mut pacer = Pacer::default();
        assert_eq!(pacer.admit(1_000, 100), Pace::Go);
        assert_eq!(pacer.admit(1_000, 100), Pace::HoldUntil(1_100));
        assert_eq!(pacer.admit(1_000, 100), Pace::HoldUntil(1_200));
        // The first held one is claimed 40 ms late; the second's turn stands.
        assert_eq!(pacer.admit(1_140, 100), Pace::Go);
        assert_eq!(pacer.admit(1_200, 100), Pace::Go);
        // Idle for longer than the tolerance: no burst to catch up.
        assert_eq!(pacer.admit(5_000, 100), Pace::Go);
        assert_eq!(pacer.admit(5_000, 100), Pace::HoldUntil(5_100));
    }

    #[test]
    fn a_backlogs_turns_stand_when_one_is_taken_late() {
        let mut pacer = Pacer::default();
        assert_eq!(pacer.admit(1_000, 100), Pace::Go);
        let turns: Vec<Pace> = (0..4).map(|_| pacer.admit(1_000, 100)).collect();
        assert_eq!(
            turns,
            [1_100, 1_200, 1_300, 1_400].map(Pace::HoldUntil),
            "a turn each"
        );
        // The first turn is taken 150 ms late: the others still go at
        // theirs, none is sent to the back of the line.
        assert_eq!(pacer.admit(1_250, 100), Pace::Go);
        assert_eq!(pacer.admit(1_250, 100), Pace::Go, "the second, on time");
        assert_eq!(pacer.admit(1_300, 100), Pace::Go);
        assert_eq!(pacer.admit(1_400, 100), Pace::Go);
        // Turns taken far later than the catch-up: at most a second's worth
        // goes at once, then the pace holds again.
        let mut pacer = Pacer::default();
        assert_eq!(pacer.admit(1_000, 100), Pace::Go);
        for _ in 0..30 {
            pacer.admit(1_000, 100);
        }
        assert_eq!(pacer.last_hold, 4_000);
        let at_once = (0..20)
            .take_while(|_| pacer.admit(3_000, 100) == Pace::Go)
            .count();
        assert_eq!(at_once, 11, "the late one and a second's worth");
    }

    #[test]
    fn a_rate_above_a_thousand_a_second_still_waits_a_millisecond() {
        assert_eq!(Pacer::interval(5_000.0), 1);
        assert_eq!(Pacer::interval(0.5), 2_000);
    }
}
