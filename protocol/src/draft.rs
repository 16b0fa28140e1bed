//! The AI's draft reply on the wire: append-only pieces, each placed by its offset.
//!
//! A reply streams in many small steps (an OpenAI-compatible backend sends a token of about four
//! characters at a time). Sending the whole reply so far on each step costs the square of its
//! length; `ai_draft` frames instead carry the piece written since the previous frame and the
//! offset at which it starts. Offsets count UTF-16 code units, as JavaScript's `String.length`
//! does, so a browser places a piece without converting anything; a piece always ends on a
//! character boundary.
//!
//! [`DraftText`] is the one rule every receiver applies (the hub's nodes here, the widget and
//! the dashboard in `web-ui/src/client/draftText.ts`): a piece at the end grows the text, a
//! piece at offset 0 replaces it (a full snapshot), a piece wholly inside the text is a repeat
//! and changes nothing, and a piece past the end is a gap: the text is kept as it was, marked
//! incomplete, until a snapshot repairs it. So a skipped or repeated frame never corrupts the
//! bubble: what is shown is always a prefix of the reply.

/// Length of `s` in UTF-16 code units (the unit of draft offsets).
pub fn utf16_len(s: &str) -> u32 {
    let n: usize = s.chars().map(char::len_utf16).sum();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What a piece did to a [`DraftText`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It followed the text: the text grew.
    Appended,
    /// Offset 0: the piece is the whole text now.
    Replaced,
    /// It lies within what the text has already: nothing changed.
    Repeat,
    /// It starts past the end: something was missed; the text is unchanged and incomplete.
    Gap,
}

/// A draft as a receiver assembles it from pieces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftText {
    text: String,
    /// `utf16_len(text)`, kept so a piece is placed without a scan.
    len: u32,
    /// A gap was seen since the last snapshot: later pieces cannot be placed.
    gap: bool,
}

impl DraftText {
    pub fn new() -> Self {
        Self::default()
    }

    /// The text assembled so far (always a prefix of the reply).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its length in UTF-16 code units.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `true` when every piece since the last snapshot was placed.
    pub fn complete(&self) -> bool {
        !self.gap
    }

    /// Place `piece`, which starts at UTF-16 offset `offset` of the reply.
    pub fn apply(&mut self, offset: u32, piece: &str) -> Applied {
        if offset == 0 {
            self.text.clear();
            self.text.push_str(piece);
            self.len = utf16_len(piece);
            self.gap = false;
            return Applied::Replaced;
        }
        if self.gap || offset > self.len {
            self.gap = true;
            return Applied::Gap;
        }
        let piece_len = utf16_len(piece);
        let end = offset.saturating_add(piece_len);
        if end <= self.len {
            return Applied::Repeat;
        }
        // Overlapping the end: keep only what is new. The overlap is counted in UTF-16 units and
        // the piece is cut on a character boundary, so a surrogate pair is never split.
        let mut skip = self.len - offset;
        let mut cut = 0;
        for c in piece.chars() {
            if skip == 0 {
                break;
            }
            let units = c.len_utf16() as u32;
            if units > skip {
                // The overlap would split a character: the piece does not fit this text.
                self.gap = true;
                return Applied::Gap;
            }
            skip -= units;
            cut += c.len_utf8();
        }
        self.text.push_str(&piece[cut..]);
        self.len = end;
        Applied::Appended
    }
}

/// The sending side: turns "the whole reply so far", as a backend reports it, into pieces.
#[derive(Debug, Clone, Default)]
pub struct DraftPieces {
    /// What was sent so far (the reply's prefix every receiver may have).
    sent: String,
    sent_len: u32,
}

impl DraftPieces {
    pub fn new() -> Self {
        Self::default()
    }

    /// The offset and the piece to send for `text`, the whole reply so far; `None` when nothing
    /// is new. A text that does not continue what was sent (a backend that revised its reply),
    /// or `snapshot`, sends the whole text from offset 0.
    pub fn next<'t>(&mut self, text: &'t str, snapshot: bool) -> Option<(u32, &'t str)> {
        if !snapshot && text.len() >= self.sent.len() && text.starts_with(self.sent.as_str()) {
            let piece = &text[self.sent.len()..];
            if piece.is_empty() {
                return None;
            }
            let offset = self.sent_len;
            self.sent.push_str(piece);
            self.sent_len += utf16_len(piece);
            return Some((offset, piece));
        }
        self.sent.clear();
        self.sent.push_str(text);
        self.sent_len = utf16_len(text);
        Some((0, text))
    }

    /// UTF-16 length of what was sent: the offset an end frame carries.
    pub fn sent_len(&self) -> u32 {
        self.sent_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pieces_in_order_grow_the_text_and_offsets_count_utf16() {
        let mut d = DraftText::new();
        assert_eq!(d.apply(0, "Hé"), Applied::Replaced);
        assert_eq!(d.apply(2, "llo 😀"), Applied::Appended);
        assert_eq!(d.len(), 8, "the emoji is two UTF-16 units");
        assert_eq!(d.apply(8, "!"), Applied::Appended);
        assert_eq!(d.text(), "Héllo 😀!");
    }

    #[test]
    fn a_repeat_changes_nothing_and_an_overlap_adds_only_the_new_part() {
        let mut d = DraftText::new();
        d.apply(0, "Hello");
        assert_eq!(d.apply(2, "ll"), Applied::Repeat);
        assert_eq!(d.apply(3, "lo, world"), Applied::Appended);
        assert_eq!(d.text(), "Hello, world");
    }

    #[test]
    fn a_gap_keeps_the_text_until_a_snapshot_repairs_it() {
        let mut d = DraftText::new();
        d.apply(0, "Hello");
        assert_eq!(d.apply(7, "world"), Applied::Gap);
        // Once a piece is missing, a later one that happens to line up is not trusted either.
        assert_eq!(d.apply(5, ", "), Applied::Gap);
        assert_eq!(d.text(), "Hello");
        assert!(!d.complete());
        assert_eq!(d.apply(0, "Hello, world"), Applied::Replaced);
        assert!(d.complete());
        assert_eq!(d.text(), "Hello, world");
    }

    #[test]
    fn joining_mid_reply_is_a_gap_not_a_wrong_text() {
        let mut d = DraftText::new();
        assert_eq!(d.apply(12, "more"), Applied::Gap);
        assert_eq!(d.text(), "");
    }

    #[test]
    fn the_sender_sends_what_is_new_and_a_snapshot_when_the_reply_was_revised() {
        let mut p = DraftPieces::new();
        assert_eq!(p.next("We ", false), Some((0, "We ")));
        assert_eq!(p.next("We ship", false), Some((3, "ship")));
        assert_eq!(p.next("We ship", false), None);
        assert_eq!(p.next("We sail", false), Some((0, "We sail")));
        assert_eq!(p.next("We sail 😀", false), Some((7, " 😀")));
        assert_eq!(p.next("We sail 😀.", true), Some((0, "We sail 😀.")));
        assert_eq!(p.sent_len(), 11);
    }

    proptest! {
        /// Whatever is dropped, repeated or reordered on the way, the receiver shows a prefix of
        /// the reply; with every piece in order it shows the reply; a snapshot repairs any state.
        #[test]
        fn a_receiver_always_holds_a_prefix_of_the_reply(
            words in proptest::collection::vec("[a-zé😀 ]{1,6}", 1..40),
            faults in proptest::collection::vec(0u8..6, 40),
        ) {
            let mut sender = DraftPieces::new();
            let mut reply = String::new();
            let mut frames = Vec::new();
            for w in &words {
                reply.push_str(w);
                if let Some((offset, piece)) = sender.next(&reply, false) {
                    frames.push((offset, piece.to_owned()));
                }
            }
            let mut clean = DraftText::new();
            for (offset, piece) in &frames {
                clean.apply(*offset, piece);
            }
            prop_assert_eq!(clean.text(), reply.as_str());

            let mut faulty = DraftText::new();
            let mut i = 0;
            while i < frames.len() {
                let (offset, piece) = &frames[i];
                match faults[i % faults.len()] {
                    0 => {} // dropped
                    1 => { faulty.apply(*offset, piece); faulty.apply(*offset, piece); }
                    2 if i + 1 < frames.len() => {
                        // swapped with the next one
                        let (o2, p2) = &frames[i + 1];
                        faulty.apply(*o2, p2);
                        faulty.apply(*offset, piece);
                        i += 1;
                    }
                    _ => { faulty.apply(*offset, piece); }
                }
                prop_assert!(reply.starts_with(faulty.text()));
                prop_assert_eq!(faulty.len(), utf16_len(faulty.text()));
                i += 1;
            }
            faulty.apply(0, &reply);
            prop_assert_eq!(faulty.text(), reply.as_str());
        }
    }
}
