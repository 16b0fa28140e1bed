//! The bus: how a change made on one node reaches the clients of every node.
//!
//! One trait, [`Bus`], with an in-memory implementation for a single node ([`memory::MemoryBus`]).
//! A node subscribes to the topics its local clients need and gets every message the *other*
//! nodes publish to them on the receiver it got at construction. Its own publications it hands
//! to its own clients itself, at once (`Hub::publish`): a node never waits on the bus, or parses
//! a copy back from it, for its own clients, and a single node has nothing to send anywhere.
//! Delivery is at most once and may reorder across publishers; clients are kept gap-free by
//! sequence numbers (see `session`), not by the bus.

pub mod memory;
pub mod redis;

use async_trait::async_trait;
use protocol::{Author, ConversationEvent, ConversationId, ConversationSummary, WorkspaceId};
use serde::{Deserialize, Serialize};

/// A fan-out channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// Events and typing of one conversation (named with its workspace, whose Redis Cluster
    /// slot its channel shares: docs/architecture.md).
    Conversation { ws: WorkspaceId, id: ConversationId },
    /// The Online list of one workspace.
    Workspace(WorkspaceId),
    /// Team presence and the audit log of one workspace (owners and editors).
    Team(WorkspaceId),
}

impl Topic {
    pub fn conversation(ws: impl Into<WorkspaceId>, id: impl Into<ConversationId>) -> Self {
        Topic::Conversation {
            ws: ws.into(),
            id: id.into(),
        }
    }

    /// The channel name (the Redis channel, after the prefix): the workspace first, as a hash
    /// tag, so that every channel of a workspace lies in its keys' slot. [`Topic::from_key`]
    /// reads it back.
    pub fn key(&self) -> String {
        let mut key = String::new();
        self.write_key(&mut key);
        key
    }

    /// [`Topic::key`] after what `out` holds: a channel name is made on every message, and
    /// `format!` cost several times these pushes (callgrind).
    pub fn write_key(&self, out: &mut String) {
        let (ws, what, id) = match self {
            Topic::Conversation { ws, id } => (ws, "}:conv:", id.as_str()),
            Topic::Workspace(ws) => (ws, "}:ws", ""),
            Topic::Team(ws) => (ws, "}:team", ""),
        };
        out.reserve(ws.len() + what.len() + id.len() + 1);
        out.push('{');
        out.push_str(ws);
        out.push_str(what);
        out.push_str(id);
    }

    /// The topic of a channel name made by [`Topic::key`]. The last `}:` ends the workspace
    /// (conversation ids are the hub's own and hold no brace).
    pub fn from_key(key: &str) -> Option<Topic> {
        let (ws, what) = key.strip_prefix('{')?.rsplit_once("}:")?;
        let ws = ws.to_owned();
        match what {
            "ws" => Some(Topic::Workspace(ws)),
            "team" => Some(Topic::Team(ws)),
            _ => Some(Topic::Conversation {
                ws,
                id: what.strip_prefix("conv:")?.to_owned(),
            }),
        }
    }
}

/// What travels on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum BusMessage {
    /// A new history event of a conversation.
    Event {
        conversation_id: ConversationId,
        event: ConversationEvent,
        /// Wall-clock microseconds at publication, for the delivery-latency histogram.
        #[serde(default)]
        published_us: u64,
    },
    /// The AI's reply as it is written (ephemeral; see `ServerFrame::AiDraft`).
    AiDraft {
        conversation_id: ConversationId,
        draft_id: String,
        /// The control epoch the reply was started under: nodes drop it after a newer one.
        epoch: u64,
        /// Where `text` starts in the draft (UTF-16 units; 0: the whole draft).
        offset: u32,
        text: String,
        state: protocol::DraftState,
    },
    /// A node missed a piece of draft `draft_id`: the node generating it sends it whole next.
    DraftWanted {
        conversation_id: ConversationId,
        draft_id: String,
    },
    /// Ephemeral typing state.
    Typing {
        conversation_id: ConversationId,
        author: Author,
        active: bool,
        /// The AI's typing: the control epoch of its turn (fenced like its drafts).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<u64>,
    },
    /// Online list rows of one workspace that changed (or appeared) since the publishing node's
    /// last round: one publication per workspace and round, not one per row.
    Summaries {
        workspace_id: WorkspaceId,
        summaries: Vec<ConversationSummary>,
    },
    /// A conversation left the Online list.
    Removed {
        workspace_id: WorkspaceId,
        conversation_id: ConversationId,
    },
    /// The holder of a conversation is about to be released for idleness (operators only).
    ControlWarning {
        conversation_id: ConversationId,
        holder_id: String,
        release_at: protocol::Millis,
    },
    /// The team changed (someone connected, disconnected, took over or released).
    TeamChanged { workspace_id: WorkspaceId },
    /// A new audit entry.
    Audit {
        workspace_id: WorkspaceId,
        entry: protocol::AuditEntry,
    },
    /// The conversation's brief changed (operators only: no widget is ever sent it).
    Brief {
        conversation_id: ConversationId,
        brief: protocol::BriefState,
    },
    /// A takeover by `holder_id` cancelled the AI's reply in progress: what it had written, for
    /// them alone (`ServerFrame::InterruptedReply`), on the workspace's topic.
    Interrupted {
        workspace_id: WorkspaceId,
        conversation_id: ConversationId,
        holder_id: protocol::OperatorId,
        draft_id: String,
        text: String,
    },
    /// A conversation was transferred to operator `to`: their dashboards are told (on the
    /// workspace's topic, which every dashboard on the Online list follows).
    TransferReceived {
        workspace_id: WorkspaceId,
        to: protocol::OperatorId,
        conversation_id: ConversationId,
        visitor_label: String,
        by: protocol::OperatorRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A new internal note (operators only: no widget is ever sent it).
    Note {
        conversation_id: ConversationId,
        note: protocol::Note,
    },
    /// The visitor's context changed (operators only).
    Context {
        conversation_id: ConversationId,
        context: protocol::VisitorContext,
    },
    /// A conversation's follow-up changed (operators only, on the workspace's topic).
    FollowUp {
        workspace_id: WorkspaceId,
        conversation_id: ConversationId,
        follow_up: protocol::FollowUp,
    },
    /// Local only, never published: the bus may have lost messages (its subscription dropped),
    /// so every local client must catch up from the store.
    Resync,
}

/// [`BusMessage::Event`]'s fields, read without the tag.
#[derive(Deserialize)]
struct EventFields {
    conversation_id: ConversationId,
    event: ConversationEvent,
    #[serde(default)]
    published_us: u64,
}

impl BusMessage {
    /// Parse a published message. Events, nearly all the traffic, are read straight into their
    /// fields: serde reads an internally tagged enum by first buffering the whole message into
    /// an intermediate tree, which cost a copy of every event on every node that received it.
    pub fn from_json(json: &[u8]) -> serde_json::Result<BusMessage> {
        if json.starts_with(br#"{"t":"event","#) {
            let e: EventFields = serde_json::from_slice(json)?;
            return Ok(BusMessage::Event {
                conversation_id: e.conversation_id,
                event: e.event,
                published_us: e.published_us,
            });
        }
        serde_json::from_slice(json)
    }

    /// The serialized [`BusMessage::Event`] around an event's JSON: `head` + event + `tail`, so a
    /// store that builds the event's JSON itself can publish exactly what `publish` would.
    /// `origin`: what the bus puts before every payload it publishes ([`Bus::channel`]).
    pub fn event_envelope(
        origin: &str,
        conversation_id: &str,
        published_us: u64,
    ) -> (String, String) {
        // Made for every message: pushed, not `format!`ted (callgrind).
        const HEAD: &str = r#"{"t":"event","conversation_id":"#;
        const TAIL: &str = r#","published_us":"#;
        let id = serde_json::to_string(conversation_id).unwrap_or_else(|_| "\"\"".into());
        let mut head = String::with_capacity(origin.len() + HEAD.len() + id.len() + 9);
        head.push_str(origin);
        head.push_str(HEAD);
        head.push_str(&id);
        head.push_str(r#","event":"#);
        let published_us = published_us.to_string();
        let mut tail = String::with_capacity(TAIL.len() + published_us.len() + 1);
        tail.push_str(TAIL);
        tail.push_str(&published_us);
        tail.push('}');
        (head, tail)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

/// Where a store sharing the bus's server publishes a topic itself ([`Bus::channel`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel<'a> {
    pub name: String,
    /// Put before the message's JSON: it marks the publishing node, whose bus drops it.
    pub origin: &'a str,
}

/// Carries a node's publications to the other nodes (never back to their origin).
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug + 'static {
    async fn publish(&self, topic: &Topic, message: &BusMessage) -> Result<(), BusError>;
    /// The channel a topic is published on, when a store sharing this bus's server can publish
    /// to it itself (Redis: inside the append script). `None`: only `publish` reaches it.
    fn channel(&self, _topic: &Topic) -> Option<Channel<'_>> {
        None
    }
    /// `true` when there is no other node: publishing reaches nobody, so the node need not
    /// build a message for it.
    fn single_node(&self) -> bool {
        false
    }
    /// Start receiving a topic's messages on this node.
    async fn subscribe(&self, topic: &Topic) -> Result<(), BusError>;
    async fn unsubscribe(&self, topic: &Topic) -> Result<(), BusError>;
    /// Check the subscription side is alive (and revive it); the node calls it periodically.
    async fn heartbeat(&self) -> Result<(), BusError> {
        Ok(())
    }
}

/// Messages for this node, as delivered by its bus.
pub type Inbox = tokio::sync::mpsc::Receiver<(Topic, BusMessage)>;

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::EventKind;

    #[test]
    fn a_topic_reads_back_from_its_channel_name() {
        for topic in [
            Topic::conversation("ws1", "cv_1"),
            Topic::conversation("odd}:conv:ws", "cv_2"),
            Topic::Workspace("a:b".into()),
            Topic::Team("{x}".into()),
        ] {
            assert_eq!(
                Topic::from_key(&topic.key()),
                Some(topic.clone()),
                "{topic:?}"
            );
        }
        assert_eq!(Topic::from_key("ws:plain"), None);
        assert_eq!(Topic::from_key("{w}:other"), None);
        // The names themselves: nodes of two versions share them during a rolling upgrade.
        assert_eq!(Topic::conversation("w", "c").key(), "{w}:conv:c");
        assert_eq!(Topic::Workspace("w".into()).key(), "{w}:ws");
        assert_eq!(Topic::Team("w".into()).key(), "{w}:team");
    }

    #[test]
    fn an_event_envelope_is_exactly_the_serialized_event_message() {
        let event = ConversationEvent {
            seq: 7,
            at: 1_764_000_000_000,
            kind: EventKind::Message {
                author: Author::Visitor,
                text: "quote \" and \\ backslash".into(),
                client_id: Some("c1".into()),
                attachments: Vec::new(),
            },
        };
        let (head, tail) = BusMessage::event_envelope("", "cv_\"odd\"", 42);
        let json = format!(
            "{head}{}{tail}",
            serde_json::to_string(&event).expect("json")
        );
        let parsed: BusMessage = serde_json::from_str(&json).expect("valid bus message");
        assert_eq!(
            BusMessage::from_json(json.as_bytes()).expect("valid bus message"),
            parsed
        );
        // The fast path reads what `publish` writes, and other messages as before.
        let removed = BusMessage::Removed {
            workspace_id: "w".into(),
            conversation_id: "c".into(),
        };
        for msg in [parsed.clone(), removed] {
            let json = serde_json::to_vec(&msg).expect("json");
            assert_eq!(BusMessage::from_json(&json).expect("valid"), msg);
        }
        assert_eq!(
            parsed,
            BusMessage::Event {
                conversation_id: "cv_\"odd\"".into(),
                event,
                published_us: 42,
            }
        );
    }
}
