//! The single-node bus: there is no other node to tell. The node hands its publications to its
//! own clients itself (`Hub::publish`), so publishing here goes nowhere and the inbox stays
//! empty; it exists so that a node is built the same way whatever its bus.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Bus, BusError, BusMessage, Inbox, Topic};

#[derive(Debug)]
pub struct MemoryBus {
    /// Held so that the inbox stays open (a closed inbox would end the node's dispatcher).
    _tx: mpsc::Sender<(Topic, BusMessage)>,
}

impl MemoryBus {
    /// A bus and its inbox, which nothing is ever sent to.
    pub fn new() -> (Self, Inbox) {
        let (tx, rx) = mpsc::channel(1);
        (Self { _tx: tx }, rx)
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, _topic: &Topic, _message: &BusMessage) -> Result<(), BusError> {
        Ok(())
    }

    fn single_node(&self) -> bool {
        true
    }

    async fn subscribe(&self, _topic: &Topic) -> Result<(), BusError> {
        Ok(())
    }

    async fn unsubscribe(&self, _topic: &Topic) -> Result<(), BusError> {
        Ok(())
    }
}
