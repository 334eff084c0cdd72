//! The accept loop every TCP listener runs: one task per connection, and on
//! shutdown no new connections, then a grace period for the open sessions
//! to finish before they are aborted.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::Shutdown;

/// Accepts on `listener` until `shutdown` fires, running `session` for each
/// connection (TCP_NODELAY set: protocol replies are small and must not
/// wait for Nagle). `service` names the protocol in the logs.
pub async fn serve_connections<F, Fut>(
    service: &'static str,
    listener: TcpListener,
    mut shutdown: Shutdown,
    grace: Duration,
    session: F,
) where
    F: Fn(TcpStream, SocketAddr, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    sessions.spawn(session(tcp, peer, shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather
                    // than spin on the error.
                    tracing::warn!(service, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = sessions.join_next(), if !sessions.is_empty() => log_panic(service, done),
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(grace, async {
        while let Some(done) = sessions.join_next().await {
            log_panic(service, done);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(service, sessions = sessions.len(), "sessions still open after the grace period; aborting them");
        sessions.shutdown().await;
    }
}

fn log_panic(service: &'static str, done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(service, error = %e, "session panicked");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::shutdown_channel;

    /// Sessions run side by side; after the shutdown nothing new is
    /// accepted, and a session that outstays the grace period is aborted.
    #[tokio::test]
    async fn serves_then_drains_then_aborts() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopping) = shutdown_channel();
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let server = tokio::spawn(serve_connections(
            "test",
            listener,
            stopping,
            Duration::from_millis(200),
            move |mut tcp, _, mut shutdown| {
                let f = f.clone();
                async move {
                    let mut b = [0u8; 1];
                    // Echo one byte; a session sent "s" lingers forever.
                    if tcp.read_exact(&mut b).await.is_ok() {
                        let _ = tcp.write_all(&b).await;
                        if b[0] == b's' {
                            std::future::pending::<()>().await;
                        }
                    }
                    shutdown.wait().await;
                    f.fetch_add(1, Ordering::SeqCst);
                }
            },
        ));
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut slow = TcpStream::connect(addr).await.unwrap();
        for (c, byte) in [(&mut a, b'a'), (&mut slow, b's')] {
            c.write_all(&[byte]).await.unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(b[0], byte);
        }
        stop.fire();
        tokio::time::timeout(Duration::from_secs(5), server).await.expect("server stops").unwrap();
        assert_eq!(finished.load(Ordering::SeqCst), 1, "the slow session was aborted, the other finished");
        assert!(TcpStream::connect(addr).await.is_err(), "nothing listens after the shutdown");
    }
}

/// How many sessions are open now. A session counts itself with
/// [`SessionCount::enter`] and stops counting when the guard is dropped,
/// also when its task is aborted at the end of a shutdown's grace period.
#[derive(Debug, Default)]
pub struct SessionCount(std::sync::atomic::AtomicUsize);

/// One open session of a [`SessionCount`].
#[must_use = "the session counts only while the guard lives"]
pub struct OpenSession<'a>(&'a SessionCount);

impl SessionCount {
    pub fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn enter(&self) -> OpenSession<'_> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        OpenSession(self)
    }
}

impl Drop for OpenSession<'_> {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod session_count_tests {
    use super::SessionCount;

    #[tokio::test]
    async fn a_session_aborted_half_way_stops_counting() {
        let count = std::sync::Arc::new(SessionCount::default());
        let c = count.clone();
        let task = tokio::spawn(async move {
            let _open = c.enter();
            std::future::pending::<()>().await;
        });
        while count.get() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(count.get(), 1);
        task.abort();
        let _ = task.await;
        assert_eq!(count.get(), 0);
    }
}
