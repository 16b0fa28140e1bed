//! Whether a text shows anything: the rule behind `empty_message` and an empty display name.
//!
//! `"\u{200B}\u{200B} "` (zero-width spaces and a space) renders as nothing, exactly like three
//! spaces, so it must be refused the same way; otherwise a visitor's blank bubble is stored and
//! answered by the AI. A character shows nothing when it is Unicode white space, a default
//! ignorable code point (zero-width spaces and joiners, variation selectors, bidirectional
//! controls, the soft hyphen, Hangul fillers, tags…), a control or format character, or a
//! combining mark (which shows only on a base character, and a text of marks alone has none).
//! A text is blank when none of its characters shows anything.
//!
//! The web UI applies the same rule before sending (`web-ui/src/client/visible.ts`), with
//! JavaScript's Unicode property escapes.
//!
//! Beside it, [`name_fault`]: what a display name may not contain because it would break the one
//! line a name is shown on, or make one name read as another (mirrored in
//! `web-ui/src/text/displayName.ts`).

use std::fmt;

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::limits::MAX_MARKS_PER_CHARACTER;

/// `true` when nothing in `text` would be visible on screen.
pub fn is_blank(text: &str) -> bool {
    !text.chars().any(shows_something)
}

/// Trim what shows nothing from both ends (inner spaces, joiners and marks stay: they belong to
/// the text between them). Marks right after the last character that shows are its own (the
/// accent of a decomposed "José", the keycap of 1️⃣) and stay too.
pub fn trim_blank(text: &str) -> &str {
    let text = text.trim_start_matches(|c: char| !shows_something(c));
    let Some(last) = text.rfind(shows_something) else {
        return "";
    };
    let base_end = last + text[last..].chars().next().map_or(0, char::len_utf8);
    let marks = text[base_end..]
        .find(|c: char| c.general_category_group() != GeneralCategoryGroup::Mark)
        .unwrap_or(text.len() - base_end);
    &text[..base_end + marks]
}

fn shows_something(c: char) -> bool {
    if c.is_whitespace() || default_ignorable(c) {
        return false;
    }
    match c.general_category_group() {
        GeneralCategoryGroup::Mark => false,
        GeneralCategoryGroup::Other => !matches!(
            c.general_category(),
            GeneralCategory::Control | GeneralCategory::Format
        ),
        _ => true,
    }
}

/// Why a display name is refused (each is `invalid_display_name`, with [`NameFault`]'s text as
/// the detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameFault {
    /// A control character (Unicode Cc: tab, new line, bell…).
    Control(char),
    /// A line or paragraph separator (U+2028, U+2029): a line break by another name.
    Separator(char),
    /// A bidirectional control (marks, embeddings, overrides, isolates): `"\u{202E}nitraM"`
    /// shows as "Martin" beside a real Martin, and an unclosed one reorders what follows the name.
    Bidi(char),
    /// More than [`MAX_MARKS_PER_CHARACTER`] combining marks on one character: stacked marks draw
    /// over the lines above and below, out of any box the name is in.
    TooManyMarks(usize),
}

impl fmt::Display for NameFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Control(c) => write!(
                f,
                "The display name contains an invisible control character (U+{:04X}).",
                u32::from(c)
            ),
            Self::Separator(c) => write!(
                f,
                "The display name contains a line or paragraph separator (U+{:04X}); keep it on one line.",
                u32::from(c)
            ),
            Self::Bidi(c) => write!(
                f,
                "The display name contains an invisible bidirectional control character (U+{:04X}).",
                u32::from(c)
            ),
            Self::TooManyMarks(n) => write!(
                f,
                "The display name stacks {n} accents or other combining marks on one character; \
                 at most {MAX_MARKS_PER_CHARACTER} are allowed."
            ),
        }
    }
}

/// The first reason `name` cannot be a display name, if any. Marks are counted per base
/// character: a run of combining marks, through any format characters (joiners) between them.
pub fn name_fault(name: &str) -> Option<NameFault> {
    let mut marks = 0usize;
    let mut worst = 0usize;
    for c in name.chars() {
        if c.is_control() {
            return Some(NameFault::Control(c));
        }
        if matches!(c, '\u{2028}' | '\u{2029}') {
            return Some(NameFault::Separator(c));
        }
        if is_bidi_control(c) {
            return Some(NameFault::Bidi(c));
        }
        if c.general_category_group() == GeneralCategoryGroup::Mark {
            marks += 1;
            worst = worst.max(marks);
        } else if c.general_category() != GeneralCategory::Format {
            marks = 0;
        }
    }
    (worst > MAX_MARKS_PER_CHARACTER).then_some(NameFault::TooManyMarks(worst))
}

/// Unicode's Bidi_Control: the Arabic letter mark, the left-to-right and right-to-left marks,
/// embeddings, overrides and isolates.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15).
fn default_ignorable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Characters that show nothing on their own, one of each kind.
    const INVISIBLE: &[char] = &[
        ' ',
        '\t',
        '\n',
        '\u{A0}',
        '\u{3000}',
        '\u{2028}', // white space
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{2060}',
        '\u{FEFF}',
        '\u{AD}', // zero-width
        '\u{FE0F}',
        '\u{E0061}',
        '\u{3164}',
        '\u{115F}', // selectors, tags, Hangul fillers
        '\u{202E}',
        '\u{2067}',
        '\u{1}',
        '\u{7F}', // bidi and controls
        '\u{301}',
        '\u{20DD}',
        '\u{93F}', // combining marks (Mn, Me, Mc)
    ];

    #[test]
    fn text_of_invisible_characters_is_blank_and_real_text_is_not() {
        assert!(is_blank("\u{200b}\u{200b} "));
        assert!(is_blank("   "));
        assert!(is_blank(""));
        assert!(is_blank("\u{301}\u{301}"));
        assert!(is_blank(&INVISIBLE.iter().collect::<String>()));
        for text in [
            "a",
            "é",
            "e\u{301}",
            "👍🏽",
            "👨‍👩‍👧",
            "1️⃣",
            "🇫🇷",
            "。",
            "\u{E000}",
            "ok\u{200B}",
        ] {
            assert!(!is_blank(text), "{text:?} shows something");
        }
        assert_eq!(trim_blank("\u{200B} Martin \u{FEFF}"), "Martin");
        assert_eq!(trim_blank("Anna\u{200D}Lena"), "Anna\u{200D}Lena");
        // The last character keeps its marks; what follows them goes.
        assert_eq!(trim_blank("Jose\u{301}"), "Jose\u{301}");
        assert_eq!(
            trim_blank(" 1\u{FE0F}\u{20E3}\u{200B} "),
            "1\u{FE0F}\u{20E3}"
        );
        assert_eq!(trim_blank("\u{301}a\u{301} \u{301}"), "a\u{301}");
    }

    #[test]
    fn names_refuse_separators_bidi_controls_and_stacked_marks() {
        assert_eq!(name_fault("Martin from Support"), None);
        assert_eq!(
            name_fault("Nora \u{1F469}\u{200D}\u{1F4BB}"),
            None,
            "joiners in emoji"
        );
        assert_eq!(
            name_fault("1\u{FE0F}\u{20E3} \u{1F3F3}\u{FE0F}\u{200D}\u{1F308}"),
            None
        );
        // Vietnamese written decomposed (two marks), Hebrew with points, Thai with a tone mark.
        assert_eq!(name_fault("Nguye\u{302}\u{303}n"), None);
        assert_eq!(
            name_fault("\u{5E9}\u{5C1}\u{5B8}\u{5DC}\u{5D5}\u{5B9}\u{5DD}"),
            None
        );
        assert_eq!(name_fault("\u{E2A}\u{E38}\u{E49}"), None);
        assert_eq!(name_fault(&format!("a{}", "\u{301}".repeat(4))), None);
        assert_eq!(
            name_fault(&format!("Ma{}rtin", "\u{301}".repeat(5))),
            Some(NameFault::TooManyMarks(5))
        );
        // Forty marks on every letter, as in the issue.
        let zalgo: String = "Martin"
            .chars()
            .flat_map(|c| std::iter::once(c).chain(std::iter::repeat_n('\u{336}', 40)))
            .collect();
        assert_eq!(name_fault(&zalgo), Some(NameFault::TooManyMarks(40)));
        // A joiner between marks does not start a new character.
        let joined = format!("a{0}\u{200D}{0}", "\u{301}\u{302}\u{303}");
        assert_eq!(name_fault(&joined), Some(NameFault::TooManyMarks(6)));
        assert_eq!(
            name_fault("Mar\u{2028}tin"),
            Some(NameFault::Separator('\u{2028}'))
        );
        assert_eq!(
            name_fault("Mar\u{2029}tin"),
            Some(NameFault::Separator('\u{2029}'))
        );
        for c in [
            '\u{61C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            assert_eq!(name_fault(&format!("a{c}b")), Some(NameFault::Bidi(c)));
        }
        assert_eq!(name_fault("a\u{85}b"), Some(NameFault::Control('\u{85}')));
        assert_eq!(
            NameFault::TooManyMarks(40).to_string(),
            "The display name stacks 40 accents or other combining marks on one character; \
             at most 4 are allowed."
        );
        assert!(
            NameFault::Separator('\u{2028}')
                .to_string()
                .contains("U+2028")
        );
        assert!(NameFault::Bidi('\u{202E}').to_string().contains("U+202E"));
    }

    proptest! {
        /// Names of letters carrying at most the allowed marks pass; one more mark on any letter,
        /// or a separator, bidirectional or control character anywhere, is refused and named.
        #[test]
        fn names_are_refused_exactly_for_their_fault(
            letters in proptest::collection::vec(("[a-zA-Zéß中😀 ]", 0..=MAX_MARKS_PER_CHARACTER), 1..20),
            mark in proptest::sample::select(vec!['\u{300}', '\u{301}', '\u{336}', '\u{20DD}', '\u{93F}', '\u{5B8}']),
            at in 0usize..20,
            bad in proptest::sample::select(vec![
                '\u{2028}', '\u{2029}', '\u{61C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}',
                '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
                '\u{0}', '\u{7}', '\n', '\u{85}',
            ]),
        ) {
            let build = |extra: Option<usize>| -> String {
                letters.iter().enumerate().map(|(i, (base, n))| {
                    let n = if Some(i) == extra { MAX_MARKS_PER_CHARACTER + 1 } else { *n };
                    format!("{base}{}", mark.to_string().repeat(n))
                }).collect()
            };
            let ok = build(None);
            prop_assert_eq!(name_fault(&ok), None);
            let at = at % letters.len();
            prop_assert_eq!(
                name_fault(&build(Some(at))),
                Some(NameFault::TooManyMarks(MAX_MARKS_PER_CHARACTER + 1))
            );
            let mut chars: Vec<char> = ok.chars().collect();
            let pos = at.min(chars.len());
            chars.insert(pos, bad);
            let with_bad: String = chars.into_iter().collect();
            let fault = name_fault(&with_bad);
            let expected = if is_bidi_control(bad) {
                NameFault::Bidi(bad)
            } else if bad.is_control() {
                NameFault::Control(bad)
            } else {
                NameFault::Separator(bad)
            };
            prop_assert_eq!(fault, Some(expected));
        }
    }

    proptest! {
        /// Any mix of invisible characters is blank; adding one visible character anywhere makes
        /// it not blank; trimming keeps exactly the visible core.
        #[test]
        fn invisible_mixes_are_blank_until_something_shows(
            picks in proptest::collection::vec(0..INVISIBLE.len(), 0..30),
            at in 0usize..31,
            visible in "[a-zA-Z0-9éß中😀]",
        ) {
            let blank: String = picks.iter().map(|&i| INVISIBLE[i]).collect();
            prop_assert!(is_blank(&blank));
            prop_assert_eq!(trim_blank(&blank), "");
            let mut chars: Vec<char> = blank.chars().collect();
            let at = at.min(chars.len());
            for (k, c) in visible.chars().enumerate() {
                chars.insert(at + k, c);
            }
            let text: String = chars.into_iter().collect();
            prop_assert!(!is_blank(&text));
            prop_assert!(trim_blank(&text).contains(visible.as_str()));
        }
    }
}
