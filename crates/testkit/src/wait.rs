//! Waiting for something that happens in the background (a delivery, a
//! queue attempt, a server's log line) without guessing how long it takes:
//! a test polls its condition until it holds or a generous limit passes.
//! A fixed sleep followed by an assertion fails on a loaded machine; a
//! poll only costs time when the condition is never met, and then the
//! test's own assertion says what was missing.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a condition may take before the test gives up: far beyond
/// what any of them needs on an idle machine, so that a busy CI machine
/// never turns a slow success into a failure.
pub const LIMIT: Duration = Duration::from_secs(30);

const POLL: Duration = Duration::from_millis(50);

/// Polls `ready` until it is true (then true) or [`LIMIT`] has passed
/// (then false), from a thread that may block.
pub fn until(mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() > LIMIT {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls the async condition `ready` until it is true (then true) or
/// [`LIMIT`] has passed (then false).
pub async fn until_async<F, Fut>(mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if ready().await {
            return true;
        }
        if start.elapsed() > LIMIT {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_returns_once_the_condition_holds() {
        let mut calls = 0;
        assert!(until(|| {
            calls += 1;
            calls == 3
        }));
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn until_async_returns_once_the_condition_holds() {
        let mut calls = 0;
        assert!(
            until_async(|| {
                calls += 1;
                let done = calls == 2;
                async move { done }
            })
            .await
        );
        assert_eq!(calls, 2);
    }
}
