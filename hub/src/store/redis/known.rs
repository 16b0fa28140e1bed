//! This node's copy of each conversation's slow-changing meta fields, so that the append script
//! need not read and send them back with every message.
//!
//! A conversation's meta has four fields that every message changes (`seq`, `last_act`,
//! `last_msg`, `active`) and ten that change rarely (its label, holder, epoch, presence…). Every
//! script that changes one of the ten bumps the meta's version `cv` (common.lua: `touch`). The
//! append sends the version this node holds; when Redis has the same one, the script answers
//! with the new sequence number only (`okc`), and the meta is this copy with the four fields of
//! the message. Otherwise it answers with the whole meta and its version, which replace the copy.
//! The check is made inside the script, atomically with the write: a copy can be out of date, but
//! it is never used then.

use std::sync::Arc;

use dashmap::DashMap;

use super::script::{META_FIELDS, parse_meta};
use crate::store::{ConversationMeta, StoreError};

/// Conversations remembered at most; past it the copy starts over (a forgotten conversation costs
/// one whole reply on its next message). About 0.5 KB each.
const CAPACITY: usize = 50_000;

const fn field(name: &str) -> usize {
    let mut i = 0;
    while i < META_FIELDS.len() {
        let (a, b) = (META_FIELDS[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a meta field")
}

const SEQ: usize = field("seq");
const LAST_ACT: usize = field("last_act");
const LAST_MSG: usize = field("last_msg");
const ACTIVE: usize = field("active");

/// One conversation's meta as a script last sent it whole, with its version.
#[derive(Debug)]
pub(super) struct Fields {
    ws: String,
    /// `cv` as Redis has it.
    pub(super) cv: String,
    /// [`META_FIELDS`]' values.
    values: Vec<Option<String>>,
}

impl Fields {
    /// The meta after an append that found this version current: these fields, and the message's
    /// own `seq`, `at` and preview (`None`: it has none).
    pub(super) fn meta(
        &self,
        id: &str,
        seq: &str,
        at: &str,
        last_msg: Option<&str>,
    ) -> Result<ConversationMeta, StoreError> {
        let mut values: Vec<Option<&str>> = self.values.iter().map(Option::as_deref).collect();
        values[SEQ] = Some(seq);
        values[LAST_ACT] = Some(at);
        values[LAST_MSG] = last_msg;
        values[ACTIVE] = Some("1");
        parse_meta(id, &values)
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
            .filter(|f| f.ws == ws)
            .map(|f| Arc::clone(&f))
    }

    /// Keep `values` (the meta, as a script sent it) under version `cv`, unless a newer version
    /// is held already (two replies racing).
    pub(super) fn remember(&self, ws: &str, id: &str, cv: &str, values: &[Option<&str>]) {
        let Ok(version) = cv.parse::<u64>() else {
            return;
        };
        let newer =
            |held: &Fields| held.ws != ws || held.cv.parse::<u64>().is_ok_and(|h| h < version);
        if self.by_id.get(id).is_some_and(|held| !newer(&held)) {
            return;
        }
        if self.by_id.len() >= CAPACITY {
            self.by_id.clear();
        }
        let fields = Arc::new(Fields {
            ws: ws.to_owned(),
            cv: cv.to_owned(),
            values: values.iter().map(|v| v.map(str::to_owned)).collect(),
        });
        self.by_id
            .entry(id.to_owned())
            .and_modify(|held| {
                if newer(held) {
                    *held = Arc::clone(&fields);
                }
            })
            .or_insert(fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(label: &str) -> Vec<Option<&str>> {
        let mut v = vec![None; META_FIELDS.len()];
        v[field("id")] = Some("c");
        v[field("ws")] = Some("ws");
        v[field("label")] = Some(label);
        v[field("started")] = Some("1");
        v[field("last_act")] = Some("1");
        v[field("holder_id")] = Some("");
        v[field("epoch")] = Some("0");
        v[field("needs_human")] = Some("0");
        v[field("vconn")] = Some("0");
        v[field("seq")] = Some("0");
        v[field("active")] = Some("1");
        v
    }

    #[test]
    fn a_newer_version_replaces_an_older_one_never_the_reverse() {
        let known = Known::default();
        known.remember("ws", "c", "2", &values("two"));
        known.remember("ws", "c", "1", &values("one"));
        let held = known.get("ws", "c").expect("held");
        assert_eq!(held.cv, "2");
        known.remember("ws", "c", "3", &values("three"));
        assert_eq!(known.get("ws", "c").expect("held").cv, "3");
        // Another workspace's conversation of the same id is not this one.
        assert!(known.get("other", "c").is_none());
    }

    #[test]
    fn the_meta_is_the_copy_with_the_messages_own_fields() {
        let known = Known::default();
        known.remember("ws", "c", "0", &values("Visitor"));
        let meta = known
            .get("ws", "c")
            .expect("held")
            .meta("c", "7", "99", Some(r#"{"author":"visitor","text":"hi"}"#))
            .expect("meta");
        assert_eq!(
            (meta.last_seq, meta.last_activity_at, meta.active),
            (7, 99, true)
        );
        assert_eq!(meta.visitor_label, "Visitor");
        assert_eq!(meta.last_message.expect("preview").text, "hi");
    }
}
