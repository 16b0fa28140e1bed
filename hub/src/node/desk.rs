//! What sessions ask of the node for the operator's desk (store/desk.rs): internal notes, the
//! visitor's context, the recent list and search.

use protocol::limits::{RECENT_PAGE, SEARCH_RESULTS};
use protocol::{ConversationSummary, Note, VisitorContext};

use super::Hub;
use super::OperatorSession;
use super::error_frame;
use crate::bus::BusMessage;
use crate::bus::Topic;
use crate::store::ConversationMeta;
use crate::store::{NewNote, RecentCursor, desk};
use crate::util::now_ms;
use protocol::ErrorCode;
use protocol::ErrorFrame;
use tracing::debug;

/// A page of the recent list.
#[derive(Debug)]
pub struct RecentPage {
    pub conversations: Vec<ConversationSummary>,
    pub next_cursor: Option<String>,
}

impl Hub {
    /// Store an internal note and announce it (unless it is a re-sent one: `true`) to the workspace's operators on every node. Any
    /// role may write one, whoever holds the conversation; the plan must have Take Control
    /// (notes are part of it). Nothing of it goes to the visitor's topic copy, the assistant
    /// or a webhook: the bus message is operators-only by construction (fanout.rs).
    pub async fn add_note(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
        client_id: String,
        text: String,
        files: Option<Box<Vec<String>>>,
    ) -> Result<(Note, bool), ErrorFrame> {
        if !op.workspace.plan.has_take_control() {
            return Err(ErrorFrame::with_message(
                ErrorCode::PlanRequired,
                "internal notes come with Take Control, on the Pro and Business plans",
            )
            .conversation(conversation_id)
            .client(client_id));
        }
        let ws = &op.workspace.id;
        let uploader = crate::store::desk::Uploader::Operator {
            id: op.claims.sub.clone(),
        };
        let attachments = self
            .attachments_for(ws, conversation_id, files.as_deref(), &uploader)
            .await
            .map_err(|e| e.client(client_id.clone()))?;
        let note = NewNote {
            author: op.operator_ref(),
            text,
            client_id: client_id.clone(),
            attachments,
        };
        let (note, duplicate) = self
            .inner
            .desk
            .add_note(ws, conversation_id, note, now_ms())
            .await
            .map_err(|e| error_frame(&e, conversation_id).client(client_id))?;
        if !duplicate {
            let msg = BusMessage::Note {
                conversation_id: conversation_id.to_owned(),
                note: note.clone(),
            };
            self.publish(&Topic::conversation(ws, conversation_id), msg)
                .await;
        }
        Ok((note, duplicate))
    }

    /// Record where the visitor is and tell the operators who have the conversation open.
    /// Best effort, like typing: a failure costs the side panel an update, never the chat.
    pub async fn visitor_context(&self, ws: &str, conversation_id: &str, context: VisitorContext) {
        if let Err(e) = self
            .inner
            .desk
            .set_context(ws, conversation_id, &context)
            .await
        {
            debug!(conversation_id, error = %e, "visitor context not stored");
            return;
        }
        let msg = BusMessage::Context {
            conversation_id: conversation_id.to_owned(),
            context,
        };
        self.publish(&Topic::conversation(ws, conversation_id), msg)
            .await;
    }

    /// A page of the conversations that left the Online list; `cursor` as the previous page
    /// gave it.
    pub async fn recent_page(
        &self,
        op: &OperatorSession,
        cursor: Option<&str>,
    ) -> Result<RecentPage, ErrorFrame> {
        let after = match cursor {
            None => None,
            Some(c) => Some(RecentCursor::decode(c).ok_or_else(|| {
                ErrorFrame::with_message(
                    ErrorCode::InvalidFrame,
                    "cursor is not one a `recent` answer gave",
                )
            })?),
        };
        let metas = self
            .inner
            .desk
            .recent(&op.workspace.id, after.as_ref(), RECENT_PAGE)
            .await
            .map_err(|e| error_frame(&e, ""))?;
        let next_cursor = (metas.len() == RECENT_PAGE)
            .then(|| metas.last())
            .flatten()
            .map(|m| {
                RecentCursor {
                    at: m.last_activity_at,
                    id: m.id.clone(),
                }
                .encode()
            });
        Ok(RecentPage {
            conversations: metas.iter().map(ConversationMeta::summary).collect(),
            next_cursor,
        })
    }

    /// Conversations matching `query`: by the words of their messages (the index, for those
    /// that left the Online list), and Online ones by visitor label or id. Plain comparisons
    /// only: a query is never a pattern.
    pub async fn search(
        &self,
        op: &OperatorSession,
        query: &str,
    ) -> Result<Vec<ConversationSummary>, ErrorFrame> {
        let ws = &op.workspace.id;
        let words = desk::query_words(query);
        let (found, online) = tokio::join!(
            self.inner.desk.search(ws, &words, SEARCH_RESULTS),
            self.inner.conversations.active(ws)
        );
        let mut found = found.map_err(|e| error_frame(&e, ""))?;
        let needle = query.trim().to_lowercase();
        for meta in online.map_err(|e| error_frame(&e, ""))? {
            let label = meta.visitor_label.to_lowercase();
            let hit = label.contains(&needle) || meta.id.to_lowercase() == needle;
            if hit && !found.iter().any(|f| f.id == meta.id) {
                found.push(meta);
            }
        }
        desk::sort_newest_first(&mut found);
        found.truncate(SEARCH_RESULTS);
        Ok(found.iter().map(ConversationMeta::summary).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::assistant::{AssistantError, Reply, ReplyRequest};
    use protocol::Role;
    use tokio::sync::mpsc;

    /// An assistant that hands each transcript it is given to the test, as JSON.
    #[derive(Debug)]
    struct Recording(mpsc::UnboundedSender<String>);

    #[async_trait::async_trait]
    impl crate::assistant::Assistant for Recording {
        async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
            let seen = serde_json::to_string(req.transcript).expect("json");
            let _ = self.0.send(seen);
            Ok(Reply {
                text: "An answer".into(),
                needs_human: false,
            })
        }
    }

    fn session(hub: &Hub, ws: &str, id: &str, role: Role) -> OperatorSession {
        crate::node::tests::session(hub, ws, id, role)
    }

    /// Notes written before and after a visitor's messages never reach the assistant's
    /// transcript (what the OpenAI-compatible and webhook backends are sent): it is built from
    /// the conversation's events, and a note is not one.
    #[tokio::test]
    async fn notes_never_reach_the_assistant() {
        let (tx, mut transcripts) = mpsc::unbounded_channel();
        let hub = crate::server::build(
            crate::Config::for_tests(),
            Some(Arc::new(Recording(tx)) as Arc<dyn crate::assistant::Assistant>),
        )
        .await
        .expect("hub");
        let (meta, _) = hub
            .visitor_sign_in("demo-pro", None, None, false)
            .await
            .expect("visitor");
        let nora = session(&hub, "demo-pro", "nora", Role::Operator);
        let (first, _) = hub
            .add_note(&nora, &meta.id, "n1".into(), "SECRET-NOTE-ONE".into(), None)
            .await
            .expect("note");
        assert_eq!((first.id, first.after_seq), (1, 0));
        for (i, text) in ["Where is my parcel?", "Hello?"].iter().enumerate() {
            hub.visitor_message("demo-pro", &meta.id, format!("v{i}"), (*text).into(), None)
                .await
                .expect("message");
            let seen = transcripts.recv().await.expect("a transcript");
            assert!(seen.contains(text), "{seen}");
            assert!(
                !seen.contains("SECRET-NOTE"),
                "a note reached the assistant: {seen}"
            );
            hub.add_note(
                &nora,
                &meta.id,
                format!("n{}", i + 2),
                "SECRET-NOTE-MORE".into(),
                None,
            )
            .await
            .expect("note");
        }
        assert_eq!(
            hub.inner
                .desk
                .notes("demo-pro", &meta.id, 0)
                .await
                .expect("notes")
                .len(),
            3
        );
    }

    /// Another workspace's conversation id is not found for notes, and a plan without Take
    /// Control has no notes.
    #[tokio::test]
    async fn notes_stay_in_their_workspace_and_plan() {
        let hub = crate::server::build(crate::Config::for_tests(), None)
            .await
            .expect("hub");
        let (other, _) = hub
            .visitor_sign_in("demo-basic", None, None, false)
            .await
            .expect("visitor");
        let nora = session(&hub, "demo-pro", "nora", Role::Owner);
        let err = hub
            .add_note(&nora, &other.id, "n1".into(), "hi".into(), None)
            .await
            .expect_err("not in nora's workspace");
        assert_eq!(err.code, ErrorCode::ConversationNotFound);
        let basic = session(&hub, "demo-basic", "bob", Role::Owner);
        let err = hub
            .add_note(&basic, &other.id, "n1".into(), "hi".into(), None)
            .await
            .expect_err("no Take Control on Basic");
        assert_eq!(err.code, ErrorCode::PlanRequired);
        assert!(
            hub.inner
                .desk
                .notes("demo-basic", &other.id, 0)
                .await
                .expect("notes")
                .is_empty()
        );
    }
}
