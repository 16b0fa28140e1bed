//! This node's copy of each conversation's slow-changing meta fields, so that the append script
//! need not read and send them back with every message.
//!
//! A conversation's meta has four fields that every message changes (`seq`, `last_act`,
//! `last_msg`, `active`) and ten that change rarely (its label, holder, epoch, presence…). Every
//! script that changes one of the ten gives the meta a new version `cv` (common.lua: `cv`;
//! Redis's clock to the microsecond, so a version is never made twice, not even after a
//! failover that lost writes). The append sends the version this node holds; when Redis has the
//! same one, the script answers with the new sequence number only (`okc`), and the meta is this
//! copy with the four fields of the message. Otherwise it answers with the whole meta and its
//! version, which replace the copy. The check is made inside the script, atomically with the
//! write: a copy can be out of date, but it is never used then.

use std::sync::Arc;

use dashmap::DashMap;
use protocol::{MessagePreview, Millis, Seq};

use crate::store::ConversationMeta;

/// Conversations remembered at most; past it the copy starts over (a forgotten conversation costs
/// one whole reply on its next message). About 0.5 KB each.
const CAPACITY: usize = 50_000;

/// One conversation's meta as a script last sent it whole, parsed, with its version.
#[derive(Debug)]
pub(super) struct Fields {
    /// `cv` as Redis has it.
    pub(super) cv: String,
    meta: ConversationMeta,
}

impl Fields {
    /// The meta after an append that found this version current: these fields, and the message's
    /// own `seq`, `at` and preview (`None`: it has none). Nothing parsed again: the holder and
    /// the rest were parsed when the whole meta came.
    pub(super) fn meta(
        &self,
        seq: Seq,
        at: Millis,
        last_message: Option<MessagePreview>,
    ) -> ConversationMeta {
        ConversationMeta {
            last_seq: seq,
            last_activity_at: at,
            last_message,
            active: true,
            ..self.meta.clone()
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Known {
    by_id: DashMap<String, Arc<Fields>>,
}

impl Known {
    /// What this node holds of conversation `id` of `ws`.
    pub(super) fn get(&self, ws: &str, id: &str) -> Option<Arc<Fields>> {
        self.by_id
            .get(id)
            .filter(|f| f.meta.workspace_id == ws)
            .map(|f| Arc::clone(&f))
    }

    /// Keep `meta` (as a script sent it whole) under version `cv`. Always the last reply's:
    /// versions are not ordered, and of two replies racing, an older one kept costs one more
    /// whole reply, never a wrong meta (its version no longer matches Redis's).
    pub(super) fn remember(&self, cv: &str, meta: &ConversationMeta) {
        if cv.is_empty() {
            return;
        }
        if self.by_id.len() >= CAPACITY && !self.by_id.contains_key(&meta.id) {
            self.by_id.clear();
        }
        self.by_id.insert(
            meta.id.clone(),
            Arc::new(Fields {
                cv: cv.to_owned(),
                meta: meta.clone(),
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{AuthorKind, ControlState, Holder};

    fn meta(label: &str) -> ConversationMeta {
        ConversationMeta {
            id: "c".into(),
            workspace_id: "ws".into(),
            visitor_label: label.into(),
            started_at: 1,
            last_activity_at: 1,
            last_message: None,
            control: ControlState {
                holder: Holder::Ai,
                epoch: 0,
            },
            needs_human: false,
            visitor_connections: 0,
            last_seq: 0,
            active: false,
            follow_up: false,
        }
    }

    #[test]
    fn the_last_whole_reply_is_the_copy() {
        let known = Known::default();
        known.remember("1733.2", &meta("two"));
        known.remember("1733.1", &meta("one"));
        let held = known.get("ws", "c").expect("held");
        assert_eq!(held.cv, "1733.1");
        // Another workspace's conversation of the same id is not this one.
        assert!(known.get("other", "c").is_none());
    }

    #[test]
    fn the_meta_is_the_copy_with_the_messages_own_fields() {
        let known = Known::default();
        known.remember("0", &meta("Visitor"));
        let preview = MessagePreview {
            author: AuthorKind::Visitor,
            text: "hi".into(),
        };
        let now = known
            .get("ws", "c")
            .expect("held")
            .meta(7, 99, Some(preview.clone()));
        assert_eq!(
            now,
            ConversationMeta {
                last_seq: 7,
                last_activity_at: 99,
                last_message: Some(preview),
                active: true,
                ..meta("Visitor")
            }
        );
    }
}
