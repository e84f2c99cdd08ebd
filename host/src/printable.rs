//! Text from outside the host made safe to print: a processor's errors,
//! log lines and stderr, a value of `slate.toml`. A control character in
//! it (ESC, BEL, a carriage return) could recolour, retitle or rewrite an
//! operator's terminal, or start a line of the host's log that looks like
//! the host's own; each is shown escaped (`\u{1b}`, `\r`) instead.

use std::borrow::Cow;

/// `text` with every control character escaped: for a place that shows
/// one line (a log line, a value in an error).
pub fn one_line(text: &str) -> Cow<'_, str> {
    escaped(text, |_| false)
}

/// `text` with every control character but line feeds and tabs escaped:
/// for a message whose lines are its own (a traceback), kept and shown as
/// lines.
pub fn lines(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c == '\n' || c == '\t')
}

/// `text` with the control characters that `kept` does not keep escaped.
fn escaped(text: &str, kept: impl Fn(char) -> bool) -> Cow<'_, str> {
    let escapes = |c: char| c.is_control() && !kept(c);
    if !text.chars().any(escapes) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escapes(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "failed\u{1b}]0;PWNED\u{7}\u{1b}[2J\r\nFAKE: all good\u{1b}[8m\tend";

    #[test]
    fn one_line_escapes_every_control_character_line_feeds_too() {
        assert_eq!(
            one_line(HOSTILE),
            "failed\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\r\\nFAKE: all good\\u{1b}[8m\\tend"
        );
    }

    #[test]
    fn lines_keeps_line_feeds_and_tabs_and_escapes_the_rest() {
        assert_eq!(
            lines(HOSTILE),
            "failed\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\r\nFAKE: all good\\u{1b}[8m\tend"
        );
    }

    #[test]
    fn text_without_control_characters_is_not_copied() {
        assert!(matches!(one_line("Dončić, 7 games"), Cow::Borrowed(_)));
        assert!(matches!(lines("a\nb"), Cow::Borrowed(_)));
    }
}
