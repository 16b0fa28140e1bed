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

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// `true` when nothing in `text` would be visible on screen.
pub fn is_blank(text: &str) -> bool {
    !text.chars().any(shows_something)
}

/// Trim what shows nothing from both ends (inner spaces, joiners and marks stay: they belong to
/// the text between them).
pub fn trim_blank(text: &str) -> &str {
    text.trim_matches(|c: char| !shows_something(c))
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
