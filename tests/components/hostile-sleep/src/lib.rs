//! Hostile test fixture `HostileSleep`: sleeps for an hour inside a host call,
//! where epoch interruption cannot reach it.

fixture_common::processor! {
    HostileSleep,
    info: hostile_common::info("HostileSleep", "hostile_sleep"),
    process: |date| {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Ok(hostile_common::rows(date, 1))
    },
}
