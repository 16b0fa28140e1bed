//! The AI fence of one node: nothing the AI says live (its draft, its typing) reaches a local
//! client after the `operator_joined` that ended the AI's turn.
//!
//! The store fences the AI's *messages* by control epoch. Drafts and typing are ephemeral and
//! never touch the store: a generation on node A keeps publishing until A hears of a takeover
//! made on node B, and those late pieces reach node C's visitor after B's `operator_joined`
//! (Redis delivers both in the order it received them). So every node keeps, per conversation
//! its clients listen to, the newest control epoch it has delivered, and drops an AI frame
//! started under an older one. The check and the fan-out happen under the conversation's entry
//! lock, and so does delivering a change of control: whatever the order in which bus messages
//! and local publications arrive, a connection's queue never holds a stale AI frame after the
//! event that made it stale.
//!
//! The node also assembles each draft from its pieces ([`protocol::draft`]), so that a client
//! opening the conversation mid-reply is sent the whole draft so far, and notices when it
//! missed a piece (it subscribed mid-reply, or the bus lost one): then it asks the generating
//! node for a snapshot, once per draft.
//!
//! Entries exist only for conversations with a local listener that saw a change of control or
//! a draft; `forget` drops one when its last listener leaves.

use dashmap::DashMap;
use protocol::draft::{Applied, DraftText};
use protocol::{ConversationId, DraftState};
use rustc_hash::FxBuildHasher;

#[derive(Debug, Default)]
struct Turn {
    /// The newest control epoch delivered (or read from the store) for this conversation.
    epoch: u64,
    draft: Option<LiveDraft>,
}

#[derive(Debug)]
struct LiveDraft {
    id: String,
    epoch: u64,
    text: DraftText,
    /// A snapshot was asked for since the last gap.
    asked: bool,
}

/// What became of an AI frame offered to the fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered to the local listeners.
    Delivered,
    /// Delivered, and the node's copy has a gap: ask the generating node for a snapshot.
    DeliveredWantSnapshot,
    /// Started under an older epoch than the node has delivered: dropped.
    Stale,
}

/// The whole draft so far, for a client that opens the conversation mid-reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub draft_id: String,
    pub epoch: u64,
    pub text: String,
}

/// One AI draft frame, as the fence reads it.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    pub draft_id: &'a str,
    pub epoch: u64,
    pub offset: u32,
    pub text: &'a str,
    pub state: DraftState,
}

#[derive(Debug, Default)]
pub struct AiFence {
    turns: DashMap<ConversationId, Turn, FxBuildHasher>,
}

impl AiFence {
    pub fn new() -> Self {
        Self::default()
    }

    /// A change of control (`operator_joined`, `operator_left`) under `epoch`: raise the fence,
    /// and `deliver` it while no AI frame can slip in between.
    pub fn control(&self, conversation_id: &str, epoch: u64, deliver: impl FnOnce()) {
        let mut turn = self.entry(conversation_id);
        raise(&mut turn, epoch);
        deliver();
    }

    /// The epoch read from the store when a client opens the conversation (or catches up): the
    /// node may not have heard of that change on the bus yet. Epoch 0 (the AI has held it from
    /// the start) adds no entry, so idle visitors cost nothing here.
    pub fn seed(&self, conversation_id: &str, epoch: u64) {
        if epoch == 0 {
            return;
        }
        raise(&mut self.entry(conversation_id), epoch);
    }

    /// The AI's typing under `epoch`: `deliver` it unless stale.
    pub fn typing(&self, conversation_id: &str, epoch: u64, deliver: impl FnOnce()) -> Verdict {
        // Held while delivering, so a change of control waits for it; made when the node has
        // no turn yet: without one, a join raced in between the check and the delivery, and
        // the typing went out after it (1 in thousands of takeovers under load).
        let turn = self.entry(conversation_id);
        if epoch < turn.epoch {
            return Verdict::Stale;
        }
        deliver();
        Verdict::Delivered
    }

    /// A piece of a draft: assemble the node's copy and `deliver` it, unless stale.
    pub fn draft(
        &self,
        conversation_id: &str,
        piece: Piece<'_>,
        deliver: impl FnOnce(),
    ) -> Verdict {
        let mut turn = self.entry(conversation_id);
        if piece.epoch < turn.epoch {
            return Verdict::Stale;
        }
        turn.epoch = piece.epoch;
        let mut verdict = Verdict::Delivered;
        if piece.state == DraftState::Streaming {
            let same = turn.draft.as_ref().is_some_and(|d| d.id == piece.draft_id);
            if !same {
                turn.draft = Some(LiveDraft {
                    id: piece.draft_id.to_owned(),
                    epoch: piece.epoch,
                    text: DraftText::new(),
                    asked: false,
                });
            }
            if let Some(d) = turn.draft.as_mut() {
                match d.text.apply(piece.offset, piece.text) {
                    Applied::Replaced => d.asked = false,
                    Applied::Gap if !d.asked => {
                        d.asked = true;
                        verdict = Verdict::DeliveredWantSnapshot;
                    }
                    _ => {}
                }
            }
        } else if turn.draft.as_ref().is_some_and(|d| d.id == piece.draft_id) {
            turn.draft = None;
        }
        deliver();
        verdict
    }

    /// The draft so far, when the node has all of it and it is not stale.
    pub fn snapshot(&self, conversation_id: &str) -> Option<Snapshot> {
        let turn = self.turns.get(conversation_id)?;
        let d = turn.draft.as_ref()?;
        (d.epoch >= turn.epoch && d.text.complete() && !d.text.is_empty()).then(|| Snapshot {
            draft_id: d.id.clone(),
            epoch: d.epoch,
            text: d.text.text().to_owned(),
        })
    }

    /// The newest epoch known for the conversation (0 when none is).
    pub fn epoch(&self, conversation_id: &str) -> u64 {
        self.turns.get(conversation_id).map_or(0, |t| t.epoch)
    }

    /// The last local listener left: nothing of it needs fencing here any more.
    pub fn forget(&self, conversation_id: &str) {
        self.turns.remove(conversation_id);
    }

    pub fn len(&self) -> usize {
        self.turns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    fn entry(
        &self,
        conversation_id: &str,
    ) -> dashmap::mapref::one::RefMut<'_, ConversationId, Turn> {
        // Usually present for a busy conversation: no key to allocate.
        if let Some(turn) = self.turns.get_mut(conversation_id) {
            return turn;
        }
        self.turns.entry(conversation_id.to_owned()).or_default()
    }
}

fn raise(turn: &mut Turn, epoch: u64) {
    if epoch > turn.epoch {
        turn.epoch = epoch;
    }
    if turn.draft.as_ref().is_some_and(|d| d.epoch < turn.epoch) {
        turn.draft = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece<'a>(epoch: u64, offset: u32, text: &'a str) -> Piece<'a> {
        Piece {
            draft_id: "d1",
            epoch,
            offset,
            text,
            state: DraftState::Streaming,
        }
    }

    #[test]
    fn a_draft_older_than_the_delivered_takeover_is_dropped() {
        let fence = AiFence::new();
        let mut out = Vec::new();
        assert_eq!(
            fence.draft("c", piece(0, 0, "We ship"), || out.push("draft")),
            Verdict::Delivered
        );
        fence.control("c", 1, || out.push("joined"));
        assert_eq!(
            fence.draft("c", piece(0, 7, " daily"), || out.push("late draft")),
            Verdict::Stale
        );
        assert_eq!(
            fence.typing("c", 0, || out.push("late typing")),
            Verdict::Stale
        );
        assert_eq!(out, ["draft", "joined"]);
        assert_eq!(fence.snapshot("c"), None, "the takeover ended the draft");
        // Handed back: the AI's new turn runs under the newer epoch and is shown.
        fence.control("c", 2, || out.push("left"));
        assert_eq!(
            fence.draft("c", piece(2, 0, "Hi"), || out.push("new draft")),
            Verdict::Delivered
        );
        assert_eq!(
            fence.typing("c", 2, || out.push("typing")),
            Verdict::Delivered
        );
    }

    #[test]
    fn typing_holds_the_turn_while_it_is_delivered_even_on_a_conversation_new_to_the_node() {
        let fence = AiFence::new();
        let mut held = false;
        fence.typing("new", 0, || {
            held = matches!(
                fence.turns.try_get_mut("new"),
                dashmap::try_result::TryResult::Locked
            );
        });
        assert!(held, "a change of control could overtake the typing");
    }

    #[test]
    fn an_epoch_read_from_the_store_fences_before_the_bus_brings_the_event() {
        let fence = AiFence::new();
        fence.seed("c", 0);
        assert!(fence.is_empty(), "epoch 0 needs no entry");
        fence.seed("c", 3);
        assert_eq!(fence.draft("c", piece(2, 0, "late"), || {}), Verdict::Stale);
        assert_eq!(fence.epoch("c"), 3);
    }

    #[test]
    fn the_node_assembles_the_draft_and_asks_once_for_a_snapshot_after_a_gap() {
        let fence = AiFence::new();
        assert_eq!(
            fence.draft("c", piece(0, 0, "Hello"), || {}),
            Verdict::Delivered
        );
        assert_eq!(
            fence.draft("c", piece(0, 5, ", wor"), || {}),
            Verdict::Delivered
        );
        assert_eq!(
            fence.snapshot("c").map(|s| s.text),
            Some("Hello, wor".into())
        );
        // A piece lost on the bus.
        assert_eq!(
            fence.draft("c", piece(0, 14, "!"), || {}),
            Verdict::DeliveredWantSnapshot
        );
        assert_eq!(
            fence.draft("c", piece(0, 15, "?"), || {}),
            Verdict::Delivered
        );
        assert_eq!(
            fence.snapshot("c"),
            None,
            "an incomplete copy is not offered"
        );
        assert_eq!(
            fence.draft("c", piece(0, 0, "Hello, world!?"), || {}),
            Verdict::Delivered
        );
        assert_eq!(
            fence.snapshot("c").map(|s| s.text),
            Some("Hello, world!?".into())
        );
        let done = Piece {
            state: DraftState::Done,
            ..piece(0, 14, "")
        };
        fence.draft("c", done, || {});
        assert_eq!(fence.snapshot("c"), None);
    }

    #[test]
    fn joining_mid_reply_asks_for_a_snapshot() {
        let fence = AiFence::new();
        assert_eq!(
            fence.draft("c", piece(0, 40, "more"), || {}),
            Verdict::DeliveredWantSnapshot
        );
        fence.forget("c");
        assert!(fence.is_empty());
    }
}
