//! The assistant's turns: one cancellable task per generation, fenced by the control epoch it
//! started under, its draft published in pieces at most every [`DRAFT_INTERVAL`], its reply
//! (or the fallback) stored under the same fence.

use super::HISTORY_LIMIT;
use super::Hub;
use crate::assistant::AssistantError;
use crate::assistant::transcript::{ImageInput, images_wanted};
use crate::bus::BusMessage;
use crate::bus::Topic;
use crate::control::Writer;
use crate::files::Variant;
use crate::store::ConversationMeta;
use crate::store::NewEvent;
use crate::store::StoreError;
use crate::util::random_id;
use dashmap::DashMap;
use protocol::Author;
use protocol::DraftState;
use protocol::Holder;
use protocol::HumanRequestedBy;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::debug;
use tracing::warn;

/// Least time between two pieces of one AI draft (25 a second read as smooth typing).
pub const DRAFT_INTERVAL: Duration = Duration::from_millis(40);

/// Why a generation's loop woke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wake {
    /// The backend wrote more.
    Changed,
    /// A change was held back by `DRAFT_INTERVAL`, which has now passed.
    Due,
    /// A node missed a piece: send the whole draft.
    SnapshotWanted,
}

/// A piece of a draft, as `Hub::draft` publishes it.
#[derive(Debug, Clone, Copy)]
pub(super) struct DraftPiece<'a> {
    draft_id: &'a str,
    epoch: u64,
    offset: u32,
    text: &'a str,
}

/// What the visitor reads when the assistant's backend failed (timed out, errored, answered
/// nonsense).
pub const FALLBACK_TEXT: &str = "Sorry, I can't answer right now. Please try again in a moment, or ask for a human and a teammate will help you.";

/// A generation running on this node.
#[derive(Debug)]
struct Generation {
    id: u64,
    draft_id: String,
    cancel: CancellationToken,
    /// Another node (or this one) missed a piece of the draft: send the whole text next.
    snapshot: Arc<tokio::sync::Notify>,
    /// Set when a takeover cancelled it: the operator who took over, offered the text so far.
    taken_by: Arc<std::sync::OnceLock<String>>,
}

/// The generations running on this node, one per conversation at most.
#[derive(Debug, Default)]
pub(super) struct Generations {
    running: DashMap<String, Generation>,
    next: std::sync::atomic::AtomicU64,
}

impl Generations {
    /// Whether a generation runs for the conversation (its topic stays subscribed meanwhile).
    pub(super) fn running(&self, conversation_id: &str) -> bool {
        self.running.contains_key(conversation_id)
    }

    /// Register a new generation, cancelling the one it replaces. The node's shutdown does
    /// not cancel it: a reply being written when the node is told to stop (a rolling upgrade)
    /// is finished and stored during the drain (`--shutdown-grace-ms`), and reaches the
    /// visitor on whichever node they reconnected to; cancelled, it would leave their message
    /// unanswered. Only a drain that runs out of time ends it.
    fn start(&self, conversation_id: &str, draft_id: &str) -> Generation {
        let generation = Generation {
            id: self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            draft_id: draft_id.to_owned(),
            cancel: CancellationToken::new(),
            snapshot: Arc::new(tokio::sync::Notify::new()),
            taken_by: Arc::default(),
        };
        let kept = Generation {
            id: generation.id,
            draft_id: generation.draft_id.clone(),
            cancel: generation.cancel.clone(),
            snapshot: generation.snapshot.clone(),
            taken_by: generation.taken_by.clone(),
        };
        if let Some(old) = self.running.insert(conversation_id.to_owned(), kept) {
            old.cancel.cancel();
        }
        generation
    }

    /// The generation `id` ended (a newer one may have replaced it already).
    fn finished(&self, conversation_id: &str, id: u64) {
        self.running.remove_if(conversation_id, |_, g| g.id == id);
    }

    /// A takeover by `operator` cancels the conversation's generation: its text so far is
    /// offered to them (see `start_reply`).
    fn cancel(&self, conversation_id: &str, operator: &str) {
        if let Some((_, g)) = self.running.remove(conversation_id) {
            let _ = g.taken_by.set(operator.to_owned());
            g.cancel.cancel();
        }
    }

    /// Ask the generation that writes `draft_id` for its whole text next.
    fn want_snapshot(&self, conversation_id: &str, draft_id: &str) {
        if let Some(g) = self.running.get(conversation_id)
            && g.draft_id == draft_id
        {
            g.snapshot.notify_one();
        }
    }
}

impl Hub {
    // ---- the assistant ----------------------------------------------------------------------

    /// Start the assistant on the conversation's latest message, under its current epoch.
    /// A newer visitor message replaces a running generation.
    pub(super) fn start_reply(&self, meta: &ConversationMeta) {
        let draft_id = random_id("d_");
        let started = self.inner.generations.start(&meta.id, &draft_id);
        let (generation, snapshot, token) = (started.id, started.snapshot, started.cancel);
        let taken_by = started.taken_by;
        let hub = self.clone();
        let conversation_id = meta.id.clone();
        let workspace_id = meta.workspace_id.clone();
        let epoch = meta.control.epoch;
        let timeout = Duration::from_millis(self.inner.config.assistant_timeout_ms);
        self.inner.metrics.bump(&self.inner.metrics.ai_started, 1);
        self.inner.metrics.ai_running.inc();
        self.inner.tasks.spawn(async move {
            let topic = Topic::conversation(&workspace_id, &conversation_id);
            // Listen to the conversation while generating, wherever its clients are: a node that
            // missed a piece of the draft asks this one for a snapshot on it.
            hub.sync_topic(topic.clone()).await;
            hub.ai_typing(&workspace_id, &conversation_id, epoch, true)
                .await;
            let (draft, mut partial) = crate::assistant::Draft::new();
            let generate = hub.generate(&conversation_id, &workspace_id, &draft);
            tokio::pin!(generate);
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut pieces = protocol::draft::DraftPieces::new();
            let mut streamed = false;
            // When the next piece may go, and whether a change waits for it.
            let mut next_piece = tokio::time::Instant::now();
            let mut waiting = false;
            // One task drives the backend and publishes its draft. Pieces go at most every
            // DRAFT_INTERVAL: a backend streaming a token at a time would otherwise cost a frame
            // per token to the visitor, to every watching dashboard and across the bus. The
            // watch channel keeps only the latest text, so a piece covers every step since the
            // last; and no draft frame can follow the final `done`/`discarded`.
            let outcome = loop {
                let wake = tokio::select! {
                    biased;
                    () = token.cancelled() => break None,
                    reply = &mut generate => break Some(reply),
                    () = &mut deadline => break Some(Err(AssistantError::Timeout)),
                    () = snapshot.notified(), if streamed => Wake::SnapshotWanted,
                    () = tokio::time::sleep_until(next_piece), if waiting => Wake::Due,
                    Ok(()) = partial.changed(), if !waiting => Wake::Changed,
                };
                if wake == Wake::Changed && tokio::time::Instant::now() < next_piece {
                    waiting = true;
                    continue;
                }
                waiting = false;
                let text = partial.borrow_and_update().clone();
                let snapshot = wake == Wake::SnapshotWanted;
                if let Some((offset, piece)) = pieces.next(&text, snapshot) {
                    streamed = true;
                    next_piece = tokio::time::Instant::now() + DRAFT_INTERVAL;
                    let piece = DraftPiece {
                        draft_id: &draft_id,
                        epoch,
                        offset,
                        text: piece,
                    };
                    hub.draft(
                        &workspace_id,
                        &conversation_id,
                        piece,
                        DraftState::Streaming,
                    )
                    .await;
                }
            };
            let metrics = &hub.inner.metrics;
            let end = match outcome {
                None => {
                    metrics.bump(&metrics.ai_cancelled, 1);
                    // Cancelled by a takeover: the operator may want what the AI had written.
                    if let Some(holder) = taken_by.get() {
                        let text = partial.borrow().clone();
                        if !protocol::visible::is_blank(&text) {
                            let msg = BusMessage::Interrupted {
                                workspace_id: workspace_id.clone(),
                                conversation_id: conversation_id.clone(),
                                holder_id: holder.clone(),
                                draft_id: draft_id.clone(),
                                text,
                            };
                            hub.publish(&Topic::Workspace(workspace_id.clone()), msg)
                                .await;
                        }
                    }
                    DraftState::Discarded
                }
                Some(Err(e)) => {
                    warn!(conversation_id, kind = e.kind(), error = %e, "assistant failed");
                    metrics.ai_failure(e.kind());
                    hub.append_fallback(&workspace_id, &conversation_id, epoch)
                        .await;
                    DraftState::Discarded
                }
                Some(Ok(reply)) => {
                    if hub
                        .append_reply(&workspace_id, &conversation_id, epoch, reply)
                        .await
                    {
                        DraftState::Done
                    } else {
                        DraftState::Discarded
                    }
                }
            };
            if streamed {
                let piece = DraftPiece {
                    draft_id: &draft_id,
                    epoch,
                    offset: pieces.sent_len(),
                    text: "",
                };
                hub.draft(&workspace_id, &conversation_id, piece, end).await;
            }
            hub.ai_typing(&workspace_id, &conversation_id, epoch, false)
                .await;
            hub.inner.generations.finished(&conversation_id, generation);
            hub.sync_topic(topic).await;
            hub.inner.metrics.ai_running.dec();
        });
    }

    /// Show (or end) the AI's draft reply to everyone in the conversation.
    pub(super) async fn draft(
        &self,
        ws: &str,
        conversation_id: &str,
        piece: DraftPiece<'_>,
        state: DraftState,
    ) {
        let msg = BusMessage::AiDraft {
            conversation_id: conversation_id.to_owned(),
            draft_id: piece.draft_id.to_owned(),
            epoch: piece.epoch,
            offset: piece.offset,
            text: piece.text.to_owned(),
            state,
        };
        self.publish(&Topic::conversation(ws, conversation_id), msg)
            .await;
    }

    /// The AI is thinking (or stopped), in the turn of control epoch `epoch`.
    pub(super) async fn ai_typing(
        &self,
        ws: &str,
        conversation_id: &str,
        epoch: u64,
        active: bool,
    ) {
        let msg = BusMessage::Typing {
            conversation_id: conversation_id.to_owned(),
            author: Author::Ai,
            active,
            epoch: Some(epoch),
        };
        self.publish(&Topic::conversation(ws, conversation_id), msg)
            .await;
    }

    pub(super) async fn generate(
        &self,
        conversation_id: &str,
        workspace_id: &str,
        draft: &crate::assistant::Draft,
    ) -> Result<crate::assistant::Reply, AssistantError> {
        let transcript = self
            .inner
            .conversations
            .history(workspace_id, conversation_id, 0, HISTORY_LIMIT)
            .await
            .map_err(|e| AssistantError::Failed(format!("history unavailable: {e}")))?;
        let images = self
            .reply_images(workspace_id, conversation_id, &transcript)
            .await;
        let req = crate::assistant::ReplyRequest {
            workspace_id,
            conversation_id,
            transcript: &transcript,
            draft,
            images: &images,
        };
        self.inner.assistant.reply(&req).await
    }

    /// The images a reply may show its model: none (and no store read) unless the workspace's
    /// assistant wants them; else the thumbnails of the visitor's latest images, read at once.
    /// An image that cannot be read is left out, never failing the reply: the model reads its
    /// note instead.
    pub(super) async fn reply_images(
        &self,
        ws: &str,
        conversation_id: &str,
        transcript: &[protocol::ConversationEvent],
    ) -> Vec<ImageInput> {
        if !self.inner.assistant.wants_images(ws) {
            return Vec::new();
        }
        let reads = images_wanted(transcript).into_iter().map(|a| async move {
            // The thumbnail, never the file: its size is bounded (`transcript::MAX_IMAGE_BYTES`).
            match self
                .inner
                .files
                .get(ws, conversation_id, &a.id, Variant::Thumb)
                .await
            {
                Ok(Some(bytes)) => Some(ImageInput {
                    id: a.id.clone(),
                    // A thumbnail is encoded like its image.
                    content_type: a.content_type.clone(),
                    bytes,
                }),
                Ok(None) => {
                    debug!(conversation_id, file = %a.id, "assistant's image not found");
                    None
                }
                Err(e) => {
                    warn!(conversation_id, file = %a.id, error = %e, "assistant's image not read");
                    None
                }
            }
        });
        futures_util::future::join_all(reads)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// The backend failed: tell the visitor briefly, under the same fence as a reply (never
    /// after a takeover), so the conversation is never left hanging.
    pub(super) async fn append_fallback(&self, ws: &str, conversation_id: &str, epoch: u64) {
        let draft = NewEvent::Message {
            author: Author::Ai,
            text: FALLBACK_TEXT.into(),
            client_id: None,
            attachments: Vec::new(),
        };
        if let Err(e) = self
            .append_event(ws, conversation_id, draft, Writer::Ai { epoch })
            .await
        {
            debug!(conversation_id, error = %e, "fallback not stored");
        }
    }

    /// Store a finished reply; `false` when it was fenced off or not stored.
    pub(super) async fn append_reply(
        &self,
        ws: &str,
        conversation_id: &str,
        epoch: u64,
        reply: crate::assistant::Reply,
    ) -> bool {
        let metrics = &self.inner.metrics;
        let draft = NewEvent::Message {
            author: Author::Ai,
            text: reply.text,
            client_id: None,
            attachments: Vec::new(),
        };
        let fence = Writer::Ai { epoch };
        let meta = match self
            .append_event(ws, conversation_id, draft, fence.clone())
            .await
        {
            Ok(appended) => {
                metrics.bump(&metrics.ai_replies, 1);
                appended.meta
            }
            Err(StoreError::Control(_)) => {
                debug!(conversation_id, "AI reply fenced off by a takeover");
                metrics.bump(&metrics.ai_fenced, 1);
                return false;
            }
            Err(e) => {
                warn!(conversation_id, error = %e, "AI reply not stored");
                metrics.ai_failure("store");
                return false;
            }
        };
        if reply.needs_human {
            let by = HumanRequestedBy::Assistant;
            if let Err(e) = self.ask_for_human(&meta, by, fence).await {
                debug!(conversation_id, error = %e, "request for a human not stored");
            }
        }
        true
    }

    /// A takeover by `operator`: stop the conversation's generation on this node.
    pub(super) fn cancel_reply(&self, conversation_id: &str, operator: &str) {
        self.inner.generations.cancel(conversation_id, operator);
    }

    /// A node missed a piece of the draft `draft_id`: if it is this node's, send it whole.
    pub(super) fn snapshot_wanted(&self, conversation_id: &str, draft_id: &str) {
        self.inner
            .generations
            .want_snapshot(conversation_id, draft_id);
    }

    /// After a hand-back, the AI answers a visitor message that nobody answered (the visitor
    /// wrote last), so the conversation never stalls between the human and the AI.
    pub(super) fn resume_ai(&self, meta: &ConversationMeta) {
        let visitor_waiting = meta
            .last_message
            .as_ref()
            .is_some_and(|m| m.author == protocol::AuthorKind::Visitor);
        if visitor_waiting && matches!(meta.control.holder, Holder::Ai) {
            self.start_reply(meta);
        }
    }
}
