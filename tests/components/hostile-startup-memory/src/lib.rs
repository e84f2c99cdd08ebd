//! Hostile test fixture `HostileStartupMemory`: starts with more than 24 MiB
//! of linear memory, so a lower memory limit refuses it at instantiation.

/// 24 MiB that are part of the initial linear memory, not grown later.
static STARTUP: [u8; 24 << 20] = [0; 24 << 20];

fixture_common::processor! {
    HostileStartupMemory,
    info: hostile_common::info("HostileStartupMemory", "hostile_startup_memory"),
    process: |date| {
        std::hint::black_box(&STARTUP);
        Ok(hostile_common::rows(date, 1))
    },
}
