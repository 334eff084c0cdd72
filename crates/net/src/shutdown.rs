//! The graceful-shutdown hook shared by the listeners: one trigger, any
//! number of cheap receivers (one per listener and per session).

use tokio::sync::watch;

/// Fires the shutdown; dropping it fires it too, so a listener never
/// outlives its owner.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Tells a listener or a session that the node is stopping.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Returns once the shutdown has been fired (at once if it already was).
    pub async fn wait(&mut self) {
        // An error means the trigger is gone, which is a shutdown as well.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }

    pub fn is_fired(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_every_receiver_also_when_dropped() {
        let (trigger, mut a) = shutdown_channel();
        let mut b = a.clone();
        assert!(!a.is_fired());
        trigger.fire();
        a.wait().await;
        assert!(b.is_fired());
        b.wait().await;

        let (trigger, mut c) = shutdown_channel();
        drop(trigger);
        assert!(c.is_fired());
        c.wait().await;
    }
}
