//! The operator's brief and suggestions: the assistant helping the team, never the visitor.
//!
//! A brief is made when a human is asked for or takes over, once per stretch the AI ran the
//! conversation (the store's claim decides which node makes it), off the message path: a task
//! that marks it pending, asks the workspace's assistant within `--brief-timeout-ms`, and
//! stores and announces the result, a failure included, so no takeover ever waits on it. Both
//! go to operators only: the brief by an operators-only bus message, a suggestion on the asking
//! connection alone.

use std::time::Duration;

use protocol::{BriefState, ErrorCode, ErrorFrame};
use tracing::warn;

use super::Hub;
use super::OperatorSession;
use super::error_frame;
use crate::assistant::{AssistantError, BriefRequest, Draft, ReplyRequest};
use crate::bus::{BusMessage, Topic};
use crate::util::now_ms;

impl Hub {
    /// A human was asked for (`stretch`: the AI's epoch then) or took over (the epoch before
    /// theirs): have the brief made, unless this stretch's was made already.
    pub(super) fn start_brief(&self, ws: &str, conversation_id: &str, stretch: u64) {
        let hub = self.clone();
        let (ws, id) = (ws.to_owned(), conversation_id.to_owned());
        self.inner.tasks.spawn(async move {
            hub.make_brief(&ws, &id, stretch).await;
        });
    }

    async fn make_brief(&self, ws: &str, id: &str, stretch: u64) {
        let desk = &self.inner.desk;
        let pending = BriefState::Pending { since: now_ms() };
        match desk.claim_brief(ws, id, stretch, &pending).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                warn!(conversation_id = id, error = %e, "brief not claimed");
                return;
            }
        }
        self.announce_brief(ws, id, pending).await;
        let timeout = Duration::from_millis(self.inner.config.brief_timeout_ms);
        let made = tokio::select! {
            made = tokio::time::timeout(timeout, self.ask_brief(ws, id)) => made,
            () = self.inner.shutdown.cancelled() => Ok(Err(AssistantError::Failed(
                "the hub node stopped".into(),
            ))),
        };
        let m = &self.inner.metrics;
        let state = match made {
            Ok(Ok(brief)) => {
                m.bump(&m.briefs_made, 1);
                BriefState::Ready {
                    brief,
                    at: now_ms(),
                }
            }
            Ok(Err(e)) => {
                m.bump(&m.briefs_failed, 1);
                warn!(conversation_id = id, kind = e.kind(), error = %e, "no brief");
                BriefState::Unavailable {
                    reason: e.to_string(),
                    at: now_ms(),
                }
            }
            Err(_) => {
                m.bump(&m.briefs_failed, 1);
                BriefState::Unavailable {
                    reason: AssistantError::Timeout.to_string(),
                    at: now_ms(),
                }
            }
        };
        match desk.set_brief(ws, id, stretch, &state).await {
            Ok(true) => self.announce_brief(ws, id, state).await,
            // A later stretch's brief is being made: this one is history.
            Ok(false) => {}
            Err(e) => warn!(conversation_id = id, error = %e, "brief not stored"),
        }
    }

    async fn ask_brief(&self, ws: &str, id: &str) -> Result<protocol::Brief, AssistantError> {
        let (transcript, context) = tokio::join!(
            self.inner
                .conversations
                .history(ws, id, 0, super::HISTORY_LIMIT),
            self.inner.desk.context(ws, id),
        );
        let transcript =
            transcript.map_err(|e| AssistantError::Failed(format!("history unavailable: {e}")))?;
        let context = context.ok().flatten();
        let req = BriefRequest {
            workspace_id: ws,
            conversation_id: id,
            transcript: &transcript,
            language: context.as_ref().and_then(|c| c.language.as_deref()),
        };
        self.inner.assistant.brief(&req).await
    }

    async fn announce_brief(&self, ws: &str, id: &str, state: BriefState) {
        let msg = BusMessage::Brief {
            conversation_id: id.to_owned(),
            brief: state,
        };
        self.publish(&Topic::conversation(ws, id), msg).await;
    }

    /// The brief as a dashboard should read it: one still pending after twice the time-out
    /// was being made by a node that stopped, and reads as unavailable.
    pub(super) fn brief_as_read(&self, brief: BriefState) -> BriefState {
        let stale = 2 * self.inner.config.brief_timeout_ms;
        match brief {
            BriefState::Pending { since } if now_ms().saturating_sub(since) > stale => {
                BriefState::Unavailable {
                    reason: "the brief was never finished (its hub node stopped)".into(),
                    at: since,
                }
            }
            other => other,
        }
    }

    /// A reply for the holder to edit and send, or not: asked of the workspace's assistant
    /// with the whole transcript, answered to the asking connection alone and never stored.
    pub async fn suggest(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
    ) -> Result<String, ErrorFrame> {
        let meta = self.conversation_for(op, conversation_id).await?;
        if op.holding(&meta).is_none() {
            let code = match meta.control.holder {
                protocol::Holder::Ai => ErrorCode::NotControlled,
                protocol::Holder::Operator(_) => ErrorCode::NotHolder,
            };
            return Err(ErrorFrame::new(code).conversation(conversation_id));
        }
        let ws = &op.workspace.id;
        let transcript = self
            .inner
            .conversations
            .history(ws, conversation_id, 0, super::HISTORY_LIMIT)
            .await
            .map_err(|e| error_frame(&e, conversation_id))?;
        let draft = Draft::detached();
        let images = self.reply_images(ws, conversation_id, &transcript).await;
        let req = ReplyRequest {
            workspace_id: ws,
            conversation_id,
            transcript: &transcript,
            draft: &draft,
            images: &images,
        };
        let timeout = Duration::from_millis(self.inner.config.brief_timeout_ms);
        let unavailable = |why: String| {
            ErrorFrame::with_message(ErrorCode::Unavailable, format!("no suggestion: {why}"))
                .conversation(conversation_id)
        };
        match tokio::time::timeout(timeout, self.inner.assistant.suggest(&req)).await {
            Ok(Ok(reply)) => Ok(reply.text),
            Ok(Err(AssistantError::NoAnswer)) => {
                Err(ErrorFrame::new(ErrorCode::NoSuggestion).conversation(conversation_id))
            }
            Ok(Err(e)) => Err(unavailable(e.to_string())),
            Err(_) => Err(unavailable(AssistantError::Timeout.to_string())),
        }
    }
}
