//! The single-node bus: publishing hands the message straight to this node's inbox.

use async_trait::async_trait;
use dashmap::DashSet;
use tokio::sync::mpsc;

use super::{Bus, BusError, BusMessage, Inbox, Topic};

#[derive(Debug)]
pub struct MemoryBus {
    subscribed: DashSet<Topic>,
    tx: mpsc::Sender<(Topic, BusMessage)>,
}

impl MemoryBus {
    /// A bus and the inbox its messages arrive on. `capacity` bounds the inbox: publishers wait
    /// when the node's dispatcher falls behind, rather than growing memory.
    pub fn new(capacity: usize) -> (Self, Inbox) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            Self {
                subscribed: DashSet::new(),
                tx,
            },
            rx,
        )
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, topic: &Topic, message: &BusMessage) -> Result<(), BusError> {
        if !self.subscribed.contains(topic) {
            return Ok(());
        }
        self.tx
            .send((topic.clone(), message.clone()))
            .await
            .map_err(|_| BusError::Unavailable("node inbox closed".into()))
    }

    fn loopback(&self) -> bool {
        true
    }

    async fn subscribe(&self, topic: &Topic) -> Result<(), BusError> {
        self.subscribed.insert(topic.clone());
        Ok(())
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), BusError> {
        self.subscribed.remove(topic);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u64) -> BusMessage {
        BusMessage::Removed {
            workspace_id: "ws".into(),
            conversation_id: format!("c{n}"),
        }
    }

    #[tokio::test]
    async fn delivers_only_subscribed_topics_in_order() {
        let (bus, mut inbox) = MemoryBus::new(16);
        let a = Topic::Workspace("a".into());
        let b = Topic::Workspace("b".into());
        bus.subscribe(&a).await.expect("subscribe");
        bus.publish(&b, &msg(0)).await.expect("publish");
        bus.publish(&a, &msg(1)).await.expect("publish");
        bus.publish(&a, &msg(2)).await.expect("publish");
        bus.unsubscribe(&a).await.expect("unsubscribe");
        bus.publish(&a, &msg(3)).await.expect("publish");
        assert_eq!(inbox.recv().await, Some((a.clone(), msg(1))));
        assert_eq!(inbox.recv().await, Some((a, msg(2))));
        assert!(inbox.try_recv().is_err());
    }
}
