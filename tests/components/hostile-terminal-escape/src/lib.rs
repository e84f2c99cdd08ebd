//! Hostile test fixture `TerminalEscape`: writes a log line, and then
//! fails, with text that would take over an operator's terminal (set its
//! title, clear it, hide what follows) and forge lines of the host's log
//! (a carriage return, a line that reads like the host's own).

use slate_sdk::{LogLevel, ProcessError};

/// What it logs and fails with.
const TAKEOVER: &str = "failure \u{1b}]0;PWNED\u{7}\u{1b}[2J\u{1b}[H\rFAKE: all runs succeeded\u{1b}[8m\n\
                        2026-01-11T00:00:00Z  INFO slate: forged host line";

fixture_common::processor! {
    TerminalEscape,
    info: hostile_common::info("TerminalEscape", "hostile_terminal_escape"),
    process: |_date| {
        slate_sdk::log(LogLevel::Warn, TAKEOVER);
        Err(ProcessError::Internal(TAKEOVER.to_string()))
    },
}
