//! Hostile test fixture `HostileRowFlood`: returns 100,000 rows, far past a small row cap.

fixture_common::processor! {
    HostileRowFlood,
    info: hostile_common::info("HostileRowFlood", "hostile_row_flood"),
    process: |date| Ok(hostile_common::rows(date, 100_000)),
}
