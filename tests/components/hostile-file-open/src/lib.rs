//! Hostile test fixture `HostileFileOpen`: tries to read /etc/hostname.

use slate_sdk::ProcessError;

fixture_common::processor! {
    HostileFileOpen,
    info: hostile_common::info("HostileFileOpen", "hostile_file_open"),
    process: |_| match std::fs::read_to_string("/etc/hostname") {
        Ok(text) => Err(ProcessError::Internal(format!("read a host file: {text}"))),
        Err(error) => Err(ProcessError::Internal(format!(
            "could not open /etc/hostname: {error}"
        ))),
    },
}
