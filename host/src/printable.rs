//! Text from outside the host made safe to print: a processor's errors,
//! log lines and stderr, a value of `slate.toml`. A control character in
//! it (ESC, BEL, a carriage return, a C1 control such as CSI) could
//! recolour, retitle or rewrite an operator's terminal, or start a line of
//! the host's log that looks like the host's own; a bidirectional override
//! could draw text reversed, so that one version reads as another; a line
//! separator breaks lines in viewers of JSON lines. Each is shown escaped
//! (`\u{1b}`, `\r`, `\u{202e}`) instead.

use std::borrow::Cow;

/// Whether `c` is shown escaped: a control character (C0, DEL, C1), a
/// format character (Unicode's `Cf`: bidirectional overrides and isolates,
/// zero-width characters, the byte-order mark, tag characters), a line or
/// paragraph separator, or a character that draws as nothing (variation
/// selectors, Hangul fillers, the blank Braille pattern): each steers or
/// hides how text is drawn.
pub fn is_unprintable(c: char) -> bool {
    // Below the first range, only controls: most text, checked without a
    // search (a 10 KB log line a guest sends a thousand times is checked
    // character by character).
    if c < STEERING_OR_INVISIBLE[0].0 {
        return c.is_control();
    }
    let at = STEERING_OR_INVISIBLE.partition_point(|&(_, last)| last < c);
    STEERING_OR_INVISIBLE
        .get(at)
        .is_some_and(|&(first, _)| first <= c)
}

/// The characters besides controls that [`is_unprintable`] escapes, as
/// sorted, disjoint ranges, first and last included.
const STEERING_OR_INVISIBLE: &[(char, char)] = &[
    ('\u{00ad}', '\u{00ad}'),
    ('\u{034f}', '\u{034f}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061c}', '\u{061c}'),
    ('\u{06dd}', '\u{06dd}'),
    ('\u{070f}', '\u{070f}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08e2}', '\u{08e2}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{2028}', '\u{202e}'),
    ('\u{2060}', '\u{206f}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{fe00}', '\u{fe0f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0000}', '\u{e0fff}'),
];

/// The control characters (Unicode's `Cc`) but line feeds and tabs, which
/// a page keeps: they only break or space lines.
const CONTROLS_BUT_LINE_FEEDS_AND_TABS: &[(char, char)] = &[
    ('\u{00}', '\u{08}'),
    ('\u{0b}', '\u{1f}'),
    ('\u{7f}', '\u{9f}'),
];

/// A JavaScript regular expression (to be used with the flags `gu`) that
/// matches what [`is_unprintable`] does but line feeds and tabs: the
/// dashboard's escape, made from this one list.
pub fn javascript_pattern() -> String {
    let mut class = String::from("[");
    for &(first, last) in CONTROLS_BUT_LINE_FEEDS_AND_TABS
        .iter()
        .chain(STEERING_OR_INVISIBLE)
    {
        class += &format!("\\u{{{:x}}}", u32::from(first));
        if last != first {
            class += &format!("-\\u{{{:x}}}", u32::from(last));
        }
    }
    class + "]"
}

/// `text` with every unprintable character escaped ([`is_unprintable`]):
/// for a place that shows one line (a log line, a value in an error).
pub fn one_line(text: &str) -> Cow<'_, str> {
    escaped(text, |_| false)
}

/// `text` with every unprintable character but line feeds and tabs
/// escaped: for a message whose lines are its own (a traceback), kept and
/// shown as lines, and for a table the host drew around others' words.
pub fn lines(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c == '\n' || c == '\t')
}

/// [`lines`] of an owned `text`, which is handed back as it is when it
/// needs no escape: what a message kept or logged costs no copy then.
pub fn into_lines(text: String) -> String {
    match lines(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

/// [`one_line`], at most `max_chars` characters of it, then `…`: how an
/// error or a listing quotes a processor's name or version.
pub fn quoted(text: &str, max_chars: usize) -> String {
    let shown = one_line(text);
    match shown.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &shown[..cut]),
        None => shown.into_owned(),
    }
}

/// JSON text (`serde_json`'s, which escapes only U+0000 to U+001F) with
/// every other unprintable character escaped as JSON escapes them
/// (`\u009b`): still the same JSON, and safe to print. Such characters
/// stand only inside strings, where an escape means the same character.
pub fn json(text: &str) -> Cow<'_, str> {
    // Outside strings, pretty JSON's own white space.
    let escapes = |c: char| is_unprintable(c) && !matches!(c, '\n' | '\t' | '\r');
    if !text.chars().any(escapes) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escapes(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                shown.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// `text` with the unprintable characters that `kept` does not keep
/// escaped.
fn escaped(text: &str, kept: impl Fn(char) -> bool) -> Cow<'_, str> {
    // Visible ASCII and spaces alone, the most text: nothing to escape.
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Cow::Borrowed(text);
    }
    let escapes = |c: char| is_unprintable(c) && !kept(c);
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
    fn c1_controls_bidi_overrides_and_line_separators_are_escaped_too() {
        assert_eq!(
            one_line("a\u{9b}2J\u{7f}b\u{202e}c\u{2028}d\u{200b}e"),
            "a\\u{9b}2J\\u{7f}b\\u{202e}c\\u{2028}d\\u{200b}e"
        );
    }

    #[test]
    fn characters_that_draw_as_nothing_are_escaped_and_letters_of_any_script_are_not() {
        // Tag characters, a variation selector, a Hangul filler.
        assert_eq!(
            one_line("1.0\u{e0031}\u{fe0f}\u{3164}"),
            "1.0\\u{e0031}\\u{fe0f}\\u{3164}"
        );
        assert_eq!(one_line("Dončić 東京 \u{feff}"), "Dončić 東京 \\u{feff}");
    }

    #[test]
    fn json_gets_json_escapes_for_what_serde_leaves_raw_and_stays_the_same_json() {
        let value = serde_json::json!({"v": "x\u{9b}2J\u{202e}\u{1b}\n"});
        let text = serde_json::to_string_pretty(&value).unwrap();

        let shown = json(&text);

        assert!(
            !shown.chars().any(|c| is_unprintable(c) && c != '\n'),
            "{shown}"
        );
        assert_contains_all(&shown, &[r"\u009b2J", r"\u202e", r"\u001b", r"\n"]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&shown).unwrap(),
            value
        );
    }

    fn assert_contains_all(text: &str, parts: &[&str]) {
        for part in parts {
            assert!(text.contains(part), "{text} lacks {part}");
        }
    }

    #[test]
    fn the_ranges_are_sorted_and_disjoint_so_a_binary_search_finds_them() {
        for pair in STEERING_OR_INVISIBLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
        for &(first, last) in STEERING_OR_INVISIBLE {
            assert!(is_unprintable(first) && is_unprintable(last));
            assert!(!first.is_control());
        }
        let neighbours = ['\u{00ac}', '\u{00ae}', '\u{2027}', '\u{202f}', '\u{e1000}'];
        assert!(!neighbours.into_iter().any(is_unprintable));
    }

    #[test]
    fn the_javascript_pattern_names_every_range_but_line_feeds_and_tabs() {
        let pattern = javascript_pattern();
        assert!(pattern.starts_with("[\\u{0}-\\u{8}\\u{b}-\\u{1f}\\u{7f}-\\u{9f}\\u{ad}"));
        assert!(pattern.ends_with("\\u{e0000}-\\u{e0fff}]"));
        assert_eq!(
            pattern.matches("\\u{").count(),
            3 * 2
                + STEERING_OR_INVISIBLE
                    .iter()
                    .map(|(f, l)| if f == l { 1 } else { 2 })
                    .sum::<usize>()
        );
    }

    #[test]
    fn quoted_is_cut_to_its_length() {
        assert_eq!(quoted("abcdef", 3), "abc…");
        assert_eq!(quoted("a\u{1b}", 10), "a\\u{1b}");
    }

    #[test]
    fn text_without_control_characters_is_not_copied() {
        assert!(matches!(one_line("Dončić, 7 games"), Cow::Borrowed(_)));
        assert!(matches!(lines("a\nb"), Cow::Borrowed(_)));
    }
}
