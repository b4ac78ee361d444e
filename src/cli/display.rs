//! Text from the ledger shown on a terminal.
//!
//! Everything in a statement was written by a signatory, and `list`, `status`, `history` and
//! `show` print it in lines and columns that readers trust. A line break, a carriage return, an
//! escape sequence or a bidirectional override inside a scope, note, reason or name could forge
//! a line of output or reorder what is shown (docs/SECURITY.md). The formats refuse control
//! characters except line feeds in `note` and `reason`; this module makes sure that whatever
//! reaches the terminal cannot move the cursor or the reading order either: such characters are
//! shown escaped, `\n` or `\u{202e}`. JSON output carries the text exactly (JSON escapes it).

use std::borrow::Cow;

/// Whether `c` could change the layout or reading order of terminal output.
fn unsafe_on_terminal(c: char) -> bool {
    c.is_control()
        // Line and paragraph separators.
        || matches!(c, '\u{2028}' | '\u{2029}')
        // Bidirectional controls (Unicode Bidi_Control), as in "Trojan Source".
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every character that could change the terminal's layout or reading order escaped.
pub(crate) fn shown(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_on_terminal) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_on_terminal(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`shown`] of each item, joined with `sep`.
pub(crate) fn shown_join(items: &[String], sep: &str) -> String {
    items.iter().map(|s| shown(s)).collect::<Vec<_>>().join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_untouched() {
        for s in [
            "Acme Corp",
            "Société Générale",
            "日本電気",
            "no-backdoors; all products",
            "ß ς",
        ] {
            assert!(matches!(shown(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn layout_changing_characters_are_escaped() {
        assert_eq!(
            shown("X\n     9  evil corp   live"),
            "X\\n     9  evil corp   live"
        );
        assert_eq!(shown("a\rb"), "a\\rb");
        assert_eq!(shown("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(shown("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(shown("x\u{2066}y\u{2069}"), "x\\u{2066}y\\u{2069}");
        assert_eq!(shown("p\u{2028}q"), "p\\u{2028}q");
        assert_eq!(shown_join(&["a\nb".into(), "c".into()], "; "), "a\\nb; c");
        // Nothing unsafe survives, whatever the input.
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        assert!(!shown(&all).chars().any(unsafe_on_terminal));
    }
}
