//! The AI assistant seen from the hub: given a transcript, produce a reply (or ask for a human).
//!
//! Backends implement [`Assistant`]: the embedded [`knowledge::KnowledgeAssistant`] (the
//! default, no external service), any OpenAI-compatible chat-completions server
//! ([`openai::OpenAiAssistant`], streaming), and a signed [`webhook::WebhookAssistant`].
//! [`Assistants`] picks one per workspace. [`transcript`] turns a history into the chat messages
//! an LLM reads, human turns and hand-back marker included.
//!
//! The hub runs each generation as a cancellable task and appends its reply under the control
//! epoch it started with (see `node::Hub::start_reply`), so a backend never needs to know about
//! takeovers: dropping its future is the cancellation.

pub mod brief;
pub mod knowledge;
pub mod openai;
pub mod transcript;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use protocol::{Brief, ConversationEvent};
use tokio::sync::watch;

/// What the assistant answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// Flag the conversation as needing a human (the assistant has no answer, or was asked).
    pub needs_human: bool,
}

/// Why a backend gave no reply. Each becomes the visitor's fallback message and a count in
/// `/metrics` by `kind()`.
#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("the backend did not answer in time")]
    Timeout,
    #[error("the backend answered HTTP {0}")]
    Status(u16),
    #[error("the backend's answer is malformed: {0}")]
    Malformed(String),
    #[error("cannot reach the backend: {0}")]
    Transport(String),
    #[error("assistant failed: {0}")]
    Failed(String),
    /// The assistant has nothing to suggest (the knowledge file has no answer to the message).
    #[error("the assistant has no suggestion for this message")]
    NoAnswer,
}

impl AssistantError {
    /// Label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Status(_) => "status",
            Self::Malformed(_) => "malformed",
            Self::Transport(_) => "transport",
            Self::Failed(_) => "failed",
            Self::NoAnswer => "no_answer",
        }
    }
}

/// How an HTTP backend's request failed (both HTTP backends use reqwest).
impl From<reqwest::Error> for AssistantError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            AssistantError::Timeout
        } else {
            AssistantError::Transport(e.to_string())
        }
    }
}

/// The partial reply of a streaming backend: each `set` replaces the text so far. Backed by a
/// watch channel, so a slow publisher sees only the latest text, never a queue of stale ones.
#[derive(Debug, Clone)]
pub struct Draft(watch::Sender<String>);

impl Draft {
    pub fn new() -> (Draft, watch::Receiver<String>) {
        let (tx, rx) = watch::channel(String::new());
        (Draft(tx), rx)
    }

    /// A draft nobody watches (tests, non-streaming callers).
    pub fn detached() -> Draft {
        Draft(watch::channel(String::new()).0)
    }

    pub fn set(&self, text: &str) {
        self.0.send_replace(text.to_owned());
    }
}

/// One generation's input.
#[derive(Debug)]
pub struct ReplyRequest<'a> {
    pub workspace_id: &'a str,
    pub conversation_id: &'a str,
    /// The whole history, oldest first; its last message is the visitor's.
    pub transcript: &'a [ConversationEvent],
    /// Where a streaming backend shows its reply as it grows.
    pub draft: &'a Draft,
    /// The visitor's latest images ([`transcript::images_wanted`]), read by the node only for a
    /// backend that [`Assistant::wants_images`]; empty otherwise, and without an image whose
    /// read failed (the model reads its note instead).
    pub images: &'a [transcript::ImageInput],
}

pub use brief::BriefRequest;

#[async_trait]
pub trait Assistant: Send + Sync + std::fmt::Debug + 'static {
    /// Answer the last visitor message of the transcript. Dropping the future cancels the
    /// generation.
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError>;

    /// A brief of the conversation for the operator about to handle it (never shown to the
    /// visitor). Without a model: the extractive brief ([`brief::extract`]).
    async fn brief(&self, req: &BriefRequest<'_>) -> Result<Brief, AssistantError> {
        Ok(brief::extract(req))
    }

    /// A reply the holder may send to the visitor's last message: shown to them alone, never
    /// stored by itself. By default the reply the assistant would give.
    async fn suggest(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        self.reply(req).await
    }

    /// Whether this workspace's backend reads images, so the node reads them into
    /// [`ReplyRequest::images`]. No by default: a backend that reads only text costs no store
    /// read.
    fn wants_images(&self, _workspace_id: &str) -> bool {
        false
    }
}

/// The backend of each workspace, and the default for the others.
#[derive(Debug)]
pub struct Assistants {
    pub default: Arc<dyn Assistant>,
    pub by_workspace: HashMap<String, Arc<dyn Assistant>>,
}

#[async_trait]
impl Assistant for Assistants {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        self.of(req.workspace_id).reply(req).await
    }

    async fn brief(&self, req: &BriefRequest<'_>) -> Result<Brief, AssistantError> {
        self.of(req.workspace_id).brief(req).await
    }

    async fn suggest(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        self.of(req.workspace_id).suggest(req).await
    }

    fn wants_images(&self, workspace_id: &str) -> bool {
        self.of(workspace_id).wants_images(workspace_id)
    }
}

impl Assistants {
    fn of(&self, workspace_id: &str) -> &Arc<dyn Assistant> {
        self.by_workspace.get(workspace_id).unwrap_or(&self.default)
    }
}

/// Transcripts for the assistant's tests: an event at `seq` (its time the same number), and a
/// message.
#[cfg(test)]
pub(crate) mod samples {
    use protocol::{Author, ConversationEvent, EventKind};

    pub fn ev(seq: u64, kind: EventKind) -> ConversationEvent {
        ConversationEvent { seq, at: seq, kind }
    }

    pub fn msg(seq: u64, author: Author, text: &str) -> ConversationEvent {
        ev(
            seq,
            EventKind::Message {
                author,
                text: text.into(),
                client_id: None,
                attachments: Vec::new(),
            },
        )
    }
}
