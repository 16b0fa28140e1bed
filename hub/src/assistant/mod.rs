//! The AI assistant seen from the hub: given a transcript, produce a reply (or ask for a human).
//!
//! [`Assistant`] is the trait real LLM backends implement later; [`knowledge::KnowledgeAssistant`]
//! is the embedded default that needs no external service. The hub runs each generation as a
//! cancellable task and appends its reply under the control epoch it started with (see
//! `node::Hub::start_reply`), so an assistant never needs to know about takeovers.

pub mod knowledge;

use async_trait::async_trait;
use protocol::ConversationEvent;

/// What the assistant answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// Flag the conversation as needing a human (the assistant has no answer, or was asked).
    pub needs_human: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("assistant failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Assistant: Send + Sync + std::fmt::Debug + 'static {
    /// Answer the last visitor message of `transcript` (the whole history, oldest first).
    /// Dropping the future cancels the generation.
    async fn reply(
        &self,
        workspace_id: &str,
        transcript: &[ConversationEvent],
    ) -> Result<Reply, AssistantError>;
}
