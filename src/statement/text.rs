//! The text of statements: organisation names as `iss` compares them, and the syntax of text
//! fields, domains and role addresses.

use unicode_normalization::UnicodeNormalization as _;

use super::*;

/// Normalises an organisation name for comparison: Unicode NFC, then lower-case mapping, then
/// NFC again (DESIGN decision 13). Refuses empty names, control characters, leading or
/// trailing white space, and names longer than [`MAX_ORG_LEN`] bytes.
///
/// # Errors
/// [`StatementError::Invalid`] naming the problem.
pub fn normalise_org(name: &str) -> Result<String, StatementError> {
    if name.len() > 4 * MAX_ORG_LEN {
        return Err(invalid(format!(
            "organisation name is longer than {MAX_ORG_LEN} bytes"
        )));
    }
    // ASCII is already in NFC and lower-cases to ASCII: skip the Unicode passes (this runs for
    // every statement a verifier decodes).
    let ascii = name.is_ascii();
    let nfc: String = if ascii {
        name.to_string()
    } else {
        name.nfc().collect()
    };
    if nfc.is_empty() {
        return Err(invalid("organisation name is empty"));
    }
    if nfc.chars().any(char::is_control) {
        return Err(invalid("organisation name contains control characters"));
    }
    if nfc.starts_with(char::is_whitespace) || nfc.ends_with(char::is_whitespace) {
        return Err(invalid("organisation name starts or ends with white space"));
    }
    let folded: String = if ascii {
        nfc.to_ascii_lowercase()
    } else {
        nfc.to_lowercase().nfc().collect()
    };
    if folded.len() > MAX_ORG_LEN {
        return Err(invalid(format!(
            "organisation name is longer than {MAX_ORG_LEN} bytes"
        )));
    }
    Ok(folded)
}

/// Checks a text field: 1 to `max` bytes, no control characters. Line feeds are allowed only
/// in the free-text fields `note` and `reason` (FORMAT.md section 4); a line break in a scope
/// item would let it pose as a row of `accord status`.
pub(super) fn check_text(field: &str, s: &str, max: usize) -> Result<(), StatementError> {
    check_text_lines(field, s, max, false)
}

/// [`check_text`] for `note` and `reason`, which may hold line feeds.
pub(super) fn check_free_text(field: &str, s: &str, max: usize) -> Result<(), StatementError> {
    check_text_lines(field, s, max, true)
}

fn check_text_lines(field: &str, s: &str, max: usize, lines: bool) -> Result<(), StatementError> {
    if s.is_empty() {
        return Err(invalid(format!("{field} is empty")));
    }
    if s.len() > max {
        return Err(invalid(format!("{field} is longer than {max} bytes")));
    }
    if s.chars().any(|c| c.is_control() && !(lines && c == '\n')) {
        return Err(invalid(if lines {
            format!("{field} contains control characters (only line feeds are allowed)")
        } else {
            format!("{field} contains control characters or line breaks")
        }));
    }
    Ok(())
}

pub(super) fn check_domain(d: &str) -> Result<(), StatementError> {
    let ok = d.len() <= 253
        && d.split('.').count() >= 2
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "domain {:?} is not a lower-case DNS name such as example.com",
            d.chars().take(64).collect::<String>()
        )))
    }
}

pub(super) fn check_contact(c: &str) -> Result<(), StatementError> {
    let ok = c.len() <= 254
        && match c.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.bytes().all(|b| b.is_ascii_graphic() && b != b'@')
                    && check_domain(domain).is_ok()
            }
            None => false,
        };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "contact must be a role address such as security@example.com",
        ))
    }
}
