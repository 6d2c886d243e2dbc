//! Log lines that repeat (a flapping next hop, a client sending the same bad request in a
//! loop) at most once per window and key, with how many were held back: the log says what
//! happens without becoming the problem.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Keys remembered at most; beyond, the oldest are forgotten (so are their counts).
const KEYS: usize = 4096;

/// Per-key rate limiting of log lines.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    keys: HashMap<String, (Instant, u64)>,
}

impl Throttle {
    /// At most one line per `window` and key.
    pub fn new(window: Duration) -> Self {
        Throttle { window, keys: HashMap::new() }
    }

    /// Whether a line for `key` may be logged at `now`: `Some(n)` with the `n` lines held back
    /// since the last one, `None` to hold this one back.
    pub fn allow(&mut self, key: &str, now: Instant) -> Option<u64> {
        if let Some((last, held)) = self.keys.get_mut(key) {
            if now.duration_since(*last) < self.window {
                *held += 1;
                return None;
            }
            let n = std::mem::take(held);
            *last = now;
            return Some(n);
        }
        if self.keys.len() >= KEYS {
            let window = self.window;
            self.keys.retain(|_, (last, _)| now.duration_since(*last) < window);
            if self.keys.len() >= KEYS {
                self.keys.clear();
            }
        }
        self.keys.insert(key.to_owned(), (now, 0));
        Some(0)
    }

    /// `line`, with what was held back said, when it may be logged.
    pub fn line(&mut self, key: &str, now: Instant, line: impl FnOnce() -> String) -> Option<String> {
        self.allow(key, now).map(|held| if held == 0 { line() } else { format!("{} ({held} more like it in the last {} s)", line(), self.window.as_secs()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_window_and_key_with_the_count_held_back() {
        let mut t = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.allow("a", t0), Some(0));
        for i in 1..=95 {
            assert_eq!(t.allow("a", t0 + Duration::from_millis(i * 10)), None);
        }
        assert_eq!(t.allow("b", t0), Some(0), "another key is not held back");
        assert_eq!(t.line("a", t0 + Duration::from_secs(10), || "x".into()).as_deref(), Some("x (95 more like it in the last 10 s)"));
        assert_eq!(t.allow("a", t0 + Duration::from_secs(11)), None);
    }
}
