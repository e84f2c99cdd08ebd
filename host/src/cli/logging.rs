//! The host's log: events to stderr, one line each.

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
        .init();
}

/// Writes each log event to stderr with every line after its first
/// indented, and a carriage return escaped (`\r`): a processor's
/// multi-line text (a stack trace it logged, its error quoted) stays
/// readable, and none of its lines can start at the margin as a line of
/// the host's own. (The formatter already escapes ESC and the other
/// terminal controls.)
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
        if !body.iter().any(|&b| b == b'\n' || b == b'\r') {
            self.0.write_all(event)?;
            return Ok(event.len());
        }
        let mut line = Vec::with_capacity(event.len() + 16);
        for &byte in body {
            match byte {
                b'\n' => line.extend_from_slice(b"\n    "),
                b'\r' => line.extend_from_slice(b"\\r"),
                _ => line.push(byte),
            }
        }
        line.extend_from_slice(&event[body.len()..]);
        self.0.write_all(&line)?;
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
    fn an_event_of_one_line_is_written_as_it_is() {
        assert_eq!(written("INFO run succeeded\n"), "INFO run succeeded\n");
        assert_eq!(written("no line end"), "no line end");
    }
}
