//! The host's log: events to stderr, each starting at the margin and
//! nothing inside one starting there.

use std::io::{self, IsTerminal, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Logs go to stderr; `RUST_LOG` sets the level (default `warn`). They are
/// coloured only on a terminal (and not under `NO_COLOR`), so a log file or
/// a journal holds no escape codes; only an event's first line starts at
/// the margin ([`IndentedEvents`]).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let colour = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(IndentedEvents)
        .with_ansi(colour)
        // An event stderr does not take (a full disk) is dropped. The
        // default reports it with `eprintln!`, which panics there: every
        // warning would end the run in flight as the host's panic.
        .log_internal_errors(false)
        .init();
}

/// Writes each log event to stderr with every line after its first
/// indented, and every other unprintable character escaped
/// ([`slate::printable::is_unprintable`]: a carriage return, a C1 control,
/// a bidirectional override): a processor's multi-line text (a stack
/// trace it logged, its error quoted) stays readable, and none of its
/// lines can start at the margin as a line of the host's own. ESC is left
/// to the formatter, which escapes it in what it quotes and writes it for
/// its own colours.
struct IndentedEvents;

impl<'a> MakeWriter<'a> for IndentedEvents {
    type Writer = EventLine<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        EventLine(io::stderr())
    }
}

/// One event's writer: the formatter writes an event whole, in one call.
struct EventLine<W>(W);

impl<W: Write> Write for EventLine<W> {
    fn write(&mut self, event: &[u8]) -> io::Result<usize> {
        let body = event.strip_suffix(b"\n").unwrap_or(event);
        let rewritten = |c: char| c != '\u{1b}' && slate::printable::is_unprintable(c);
        let Ok(text) = std::str::from_utf8(body) else {
            self.0.write_all(event)?;
            return Ok(event.len());
        };
        if !text.contains(rewritten) {
            self.0.write_all(event)?;
            return Ok(event.len());
        }
        let mut line = String::with_capacity(event.len() + 16);
        for c in text.chars() {
            match c {
                '\n' => line.push_str("\n    "),
                c if rewritten(c) => line.extend(c.escape_default()),
                c => line.push(c),
            }
        }
        self.0.write_all(line.as_bytes())?;
        self.0.write_all(&event[body.len()..])?;
        Ok(event.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(event: &str) -> String {
        let mut line = EventLine(Vec::new());
        line.write_all(event.as_bytes()).unwrap();
        String::from_utf8(line.0).unwrap()
    }

    #[test]
    fn an_events_lines_after_its_first_are_indented_and_a_carriage_return_escaped() {
        assert_eq!(
            written("WARN run failed: Traceback\n  line 3\r\nFAKE INFO now active\n"),
            "WARN run failed: Traceback\n      line 3\\r\n    FAKE INFO now active\n"
        );
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_escaped_and_the_formatters_colours_kept() {
        assert_eq!(
            written("\u{1b}[33mWARN\u{1b}[0m a\u{9b}2J\u{202e}b\n"),
            "\u{1b}[33mWARN\u{1b}[0m a\\u{9b}2J\\u{202e}b\n"
        );
    }

    #[test]
    fn an_event_of_one_line_is_written_as_it_is() {
        assert_eq!(written("INFO run succeeded\n"), "INFO run succeeded\n");
        assert_eq!(written("no line end"), "no line end");
    }
}
