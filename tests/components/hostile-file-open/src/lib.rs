//! Hostile test fixture `HostileFileOpen`: tries to read /etc/hostname.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostileFileOpen;

impl Guest for HostileFileOpen {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostileFileOpen", "hostile_file_open")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let _ = date;
        match std::fs::read_to_string("/etc/hostname") {
            Ok(text) => Err(ProcessError::Internal(format!("read a host file: {text}"))),
            Err(error) => Err(ProcessError::Internal(format!(
                "could not open /etc/hostname: {error}"
            ))),
        }
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostileFileOpen);
