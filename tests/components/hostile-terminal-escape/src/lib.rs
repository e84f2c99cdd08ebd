//! Hostile test fixture `TerminalEscape`: text that would take over an
//! operator's terminal (set its title, clear it, hide what follows, with
//! C0 and C1 controls, and draw text reversed) and forge lines of the
//! host's log (a carriage return, a line that reads like the host's own),
//! everywhere a processor puts words: its column's description, its log
//! line and its error; on the 12th, a bad row holding it, which its
//! `quarantine` policy sets aside.

use slate_sdk::{BadRowPolicy, LogLevel, ProcessError, ProcessorInfo, RowSetBuilder, Value};

/// What it logs, fails with and describes its column with.
const TAKEOVER: &str = "failure \u{1b}]0;PWNED\u{7}\u{1b}[2J\u{1b}[H\u{9b}2J\u{202e}desrever\
                        \rFAKE: all runs succeeded\u{1b}[8m\n\
                        2026-01-11T00:00:00Z  INFO slate: forged host line";

fixture_common::processor! {
    TerminalEscape,
    info: {
        let mut info = ProcessorInfo {
            bad_row_policy: BadRowPolicy::Quarantine,
            ..hostile_common::info("TerminalEscape", "hostile_terminal_escape")
        };
        info.schema[1].description = TAKEOVER.to_string();
        info
    },
    process: |date| {
        slate_sdk::log(LogLevel::Warn, TAKEOVER);
        if date.day != 12 {
            return Err(ProcessError::Internal(TAKEOVER.to_string()));
        }
        let mut rows = RowSetBuilder::new(&["day", "n"]);
        rows.push(vec![Value::date(date), Value::string(TAKEOVER)]);
        Ok(rows.finish())
    },
}
