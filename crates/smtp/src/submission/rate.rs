//! A per-user limit on recipients per hour: a compromised password must
//! not turn the platform into a spam source. Kept in the node's memory
//! (each submission node counts for itself; the proxy sends one user's
//! connections to one node).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sliding window of recipients per user.
pub struct RateLimit {
    /// Recipients per window; 0: no limit.
    max: u32,
    window: Duration,
    sent: Mutex<HashMap<String, Vec<(Instant, u32)>>>,
}

impl RateLimit {
    pub fn new(max: u32, window: Duration) -> RateLimit {
        RateLimit { max, window, sent: Mutex::new(HashMap::new()) }
    }

    /// Counts `recipients` for `user` if they fit in the window; false
    /// (and nothing counted) when they do not.
    pub fn take(&self, user: &str, recipients: u32, now: Instant) -> bool {
        if self.max == 0 {
            return true;
        }
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        // Forget users with nothing in the window, so the map stays small.
        if sent.len() > 10_000 {
            sent.retain(|_, v| v.iter().any(|(at, _)| now.duration_since(*at) < self.window));
        }
        let entries = sent.entry(user.to_ascii_lowercase()).or_default();
        entries.retain(|(at, _)| now.duration_since(*at) < self.window);
        let used: u32 = entries.iter().map(|(_, n)| *n).sum();
        if used.saturating_add(recipients) > self.max {
            return false;
        }
        entries.push((now, recipients));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides() {
        let r = RateLimit::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(r.take("ann@example.org", 3, t0));
        assert!(r.take("Ann@example.org", 2, t0 + Duration::from_secs(10)));
        assert!(!r.take("ann@example.org", 1, t0 + Duration::from_secs(20)), "full");
        assert!(r.take("bob@example.org", 5, t0), "per user");
        assert!(r.take("ann@example.org", 3, t0 + Duration::from_secs(61)), "the first 3 left the window");
        assert!(!r.take("ann@example.org", 1, t0 + Duration::from_secs(62)));
        assert!(RateLimit::new(0, Duration::from_secs(1)).take("x", u32::MAX, t0), "0 is no limit");
    }
}
