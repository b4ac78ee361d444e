//! Text from the ledger shown on a terminal.
//!
//! Everything in a statement was written by a signatory, and `list`, `status`, `history` and
//! `show` print it in lines and columns that readers trust. A line break, a carriage return, an
//! escape sequence or a bidirectional override inside a scope, note, reason or name could forge
//! a line of output or reorder what is shown (docs/SECURITY.md). The formats refuse control
//! characters except line feeds in `note` and `reason`; this module makes sure that whatever
//! reaches the terminal cannot move the cursor or the reading order either: such characters are
//! shown escaped, `\n` or `\u{202e}`. JSON output carries the text exactly (JSON escapes it).
//!
//! Characters a reader cannot see are escaped too (issue 10): a zero width space, a soft
//! hyphen, a Hangul filler, a no-break or ideographic space would make two different names or
//! scopes print alike. Everything [`names::is_invisible_or_confusable_space`] or
//! [`names::is_unassigned_or_private_use`] flags (the pinned Unicode 14.0.0 data of
//! docs/FORMAT.md §4.1: Default_Ignorable_Code_Point, format characters, spaces other than
//! U+0020, U+2800, and code points unassigned in 14.0.0 or private use) is shown as
//! `\u{200b}`. Version-1 names may still hold such characters; version 2 refuses them.

use std::borrow::Cow;

use accord::names;

/// Whether `c` could change the layout or reading order of terminal output, or cannot be seen.
fn unsafe_on_terminal(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control()
        // Line and paragraph separators.
        || matches!(c, '\u{2028}' | '\u{2029}')
        // Bidirectional controls (Unicode Bidi_Control), as in "Trojan Source".
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        // Invisible characters and spaces other than U+0020; unknown or private glyphs.
        || names::is_invisible_or_confusable_space(c)
        || names::is_unassigned_or_private_use(c)
}

/// `s` with every character that could change the terminal's layout or reading order, or that
/// a reader cannot see, escaped.
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

/// `s` between double quotes, [`shown`], with `"` and `\` inside escaped once (as Rust's `{:?}`
/// would, but without escaping [`shown`]'s escapes a second time).
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if unsafe_on_terminal(c) {
            out.extend(c.escape_default());
        } else if matches!(c, '"' | '\\') {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// [`shown`] of each item, joined with `sep`.
pub(crate) fn shown_join(items: &[String], sep: &str) -> String {
    items.iter().map(|s| shown(s)).collect::<Vec<_>>().join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes_once() {
        assert_eq!(quoted("Acme Corp"), "\"Acme Corp\"");
        assert_eq!(quoted("A\u{202e}B"), "\"A\\u{202e}B\"");
        assert_eq!(quoted("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
    }

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

    #[test]
    fn invisible_characters_and_other_spaces_are_escaped() {
        // Issue 10: names that all printed as "Contoso Ltd".
        for (name, out) in [
            ("Contoso\u{200b} Ltd", "Contoso\\u{200b} Ltd"),
            ("Cont\u{200d}oso Ltd", "Cont\\u{200d}oso Ltd"),
            ("Contoso\u{2060} Ltd", "Contoso\\u{2060} Ltd"),
            ("\u{feff}Contoso Ltd", "\\u{feff}Contoso Ltd"),
            ("Con\u{ad}toso Ltd", "Con\\u{ad}toso Ltd"),
            ("Contoso L\u{34f}td", "Contoso L\\u{34f}td"),
            ("Contoso\u{180e} Ltd", "Contoso\\u{180e} Ltd"),
            ("Contoso Ltd\u{e0020}", "Contoso Ltd\\u{e0020}"),
            ("Contoso\u{3164}Ltd", "Contoso\\u{3164}Ltd"),
            ("Contoso\u{a0}Ltd", "Contoso\\u{a0}Ltd"),
            ("Contoso\u{3000}Ltd", "Contoso\\u{3000}Ltd"),
            ("Contoso\u{202f}Ltd", "Contoso\\u{202f}Ltd"),
            ("Contoso\u{2800}Ltd", "Contoso\\u{2800}Ltd"),
            ("Contoso\u{fe0f} Ltd", "Contoso\\u{fe0f} Ltd"),
            ("Contoso \u{e000}", "Contoso \\u{e000}"),
            ("Contoso \u{1faf7}", "Contoso \\u{1faf7}"),
        ] {
            assert_eq!(shown(name), out);
        }
        // Visible look-alikes stay as they are: the comparison key, not the display, catches
        // them (docs/FORMAT.md §4.1).
        for s in [
            "Contoso  Ltd",
            "\u{ff23}\u{ff4f}\u{ff4e}\u{ff54}\u{ff4f}\u{ff53}\u{ff4f}",
            "\u{421}ontoso",
            "أرامكو السعودية",
            "אל על",
            "e\u{301}",
        ] {
            assert!(matches!(shown(s), Cow::Borrowed(_)), "{s}");
        }
    }
}
