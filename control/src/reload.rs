//! Reloads as the control thread runs them. The file is read elsewhere (on a hung mount even a
//! `stat` blocks, for as long as the server stays away), the control thread goes on serving
//! the API, ARP, health checks and metrics, and puts what was read in force when it comes back.
//!
//! At most one read is in flight: a reload asked for meanwhile waits for one more read after
//! it (the file may have changed since the first one began), however many ask. A read that
//! has not come back within [`PATIENCE`] is reported stuck, once: whoever waits is told, the
//! running configuration stays, and a reload asked for while it stays stuck is refused at once
//! rather than queued behind it. If it ever comes back, what it read is put in force (or
//! refused) as any reload's is: the file as it is by then is what was asked for.

use std::time::{Duration, Instant};

/// How long a reload's read may take before it is reported stuck. Reading and parsing 10,000
/// sessions takes about a second on a busy machine; a read this late is a file system that
/// does not answer.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The reloads asked for, each waiter a `W` (how to answer it).
pub struct Reloads<W> {
    reading: Option<Reading<W>>,
    /// Who asked while a read was in flight: they get one more read once it is back.
    next: Option<Vec<W>>,
}

impl<W> Default for Reloads<W> {
    fn default() -> Self {
        Reloads { reading: None, next: None }
    }
}

/// The read in flight.
struct Reading<W> {
    since: Instant,
    waiting: Vec<W>,
    /// Reported stuck (its waiters were answered then).
    stuck: bool,
}

/// What to do about a reload just asked for.
#[derive(Debug, PartialEq)]
pub enum Asked<W> {
    /// Start a read now.
    Read,
    /// A read is in flight: this one waits for the next.
    Queued,
    /// The read in flight is stuck: answer `who` at once; nothing is read.
    Stuck { who: W, stuck_for: Duration },
}

/// A read that came back.
#[derive(Debug, PartialEq)]
pub struct Back<W> {
    /// Who waits for its outcome.
    pub waiting: Vec<W>,
    pub took: Duration,
    /// It had been reported stuck.
    pub was_stuck: bool,
    /// Someone asked while it was in flight: start the next read now.
    pub read_next: bool,
}

impl<W> Reloads<W> {
    /// `who` asks for a reload.
    pub fn ask(&mut self, who: W, now: Instant) -> Asked<W> {
        match &mut self.reading {
            None => {
                self.reading = Some(Reading { since: now, waiting: vec![who], stuck: false });
                Asked::Read
            }
            Some(r) if r.stuck => Asked::Stuck { who, stuck_for: now.saturating_duration_since(r.since) },
            Some(_) => {
                self.next.get_or_insert_with(Vec::new).push(who);
                Asked::Queued
            }
        }
    }

    /// The read in flight came back; `None` when none was (nothing to answer).
    pub fn back(&mut self, now: Instant) -> Option<Back<W>> {
        let r = self.reading.take()?;
        let read_next = match self.next.take() {
            Some(waiting) => {
                self.reading = Some(Reading { since: now, waiting, stuck: false });
                true
            }
            None => false,
        };
        Some(Back { waiting: r.waiting, took: now.saturating_duration_since(r.since), was_stuck: r.stuck, read_next })
    }

    /// Once per read, when it has been out longer than [`PATIENCE`]: how long, and who was
    /// waiting for it or for the one after (no read can start behind it), to be told.
    pub fn overdue(&mut self, now: Instant) -> Option<(Duration, Vec<W>)> {
        let r = self.reading.as_mut().filter(|r| !r.stuck)?;
        let out = now.saturating_duration_since(r.since);
        if out < PATIENCE {
            return None;
        }
        r.stuck = true;
        let mut waiting = std::mem::take(&mut r.waiting);
        waiting.extend(self.next.take().unwrap_or_default());
        Some((out, waiting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloads_asked_for_during_a_read_wait_for_one_more_read_not_one_each() {
        let mut r = Reloads::default();
        let t = Instant::now();
        assert_eq!(r.ask("first", t), Asked::Read);
        for who in ["second", "third", "fourth"] {
            assert_eq!(r.ask(who, t), Asked::Queued, "no second read while one is in flight");
        }
        let back = r.back(t + Duration::from_millis(300)).unwrap();
        assert_eq!(back, Back { waiting: vec!["first"], took: Duration::from_millis(300), was_stuck: false, read_next: true });
        // The next read is in flight for all three; a fourth asker waits for the one after.
        assert_eq!(r.ask("fifth", t), Asked::Queued);
        let back = r.back(t + Duration::from_millis(500)).unwrap();
        assert_eq!((back.waiting, back.read_next), (vec!["second", "third", "fourth"], true));
        let back = r.back(t + Duration::from_millis(600)).unwrap();
        assert_eq!((back.waiting, back.read_next), (vec!["fifth"], false));
        assert_eq!(r.back(t), None, "nothing in flight");
        assert_eq!(r.ask("again", t), Asked::Read, "idle again: a reload reads at once");
    }

    #[test]
    fn a_read_out_past_the_patience_is_reported_stuck_once_and_refuses_reloads_until_it_returns() {
        let mut r = Reloads::default();
        let t = Instant::now();
        assert_eq!(r.ask(1, t), Asked::Read);
        assert_eq!(r.ask(2, t + Duration::from_secs(1)), Asked::Queued);
        assert_eq!(r.overdue(t + PATIENCE - Duration::from_millis(1)), None, "not yet");
        let (out, waiting) = r.overdue(t + PATIENCE).unwrap();
        assert_eq!((out, waiting), (PATIENCE, vec![1, 2]), "both told: no read can start behind a stuck one");
        assert_eq!(r.overdue(t + PATIENCE * 10), None, "reported once");
        assert_eq!(r.ask(3, t + PATIENCE * 2), Asked::Stuck { who: 3, stuck_for: PATIENCE * 2 }, "refused at once, not queued");
        // It comes back at last: nobody waits any more, nothing was queued behind it.
        let back = r.back(t + PATIENCE * 20).unwrap();
        assert_eq!(back, Back { waiting: vec![], took: PATIENCE * 20, was_stuck: true, read_next: false });
        assert_eq!(r.ask(4, t + PATIENCE * 21), Asked::Read);
        assert_eq!(r.overdue(t + PATIENCE * 21 + Duration::from_secs(1)), None, "a new read has its own patience");
    }
}
