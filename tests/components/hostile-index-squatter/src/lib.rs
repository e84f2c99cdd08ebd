//! Hostile test fixture `IndexSquatter`: writes `slate_test.versioned__by_day`,
//! the name under which the embedded store once indexed
//! `slate_test.versioned` by its partition column `day`. SQLite keeps
//! tables and indexes in one namespace, so, committed first, the table
//! would stop `VersionedProcessor` from ever creating its own.

fixture_common::processor! {
    IndexSquatter,
    info: hostile_common::info("IndexSquatter", "versioned__by_day"),
    process: |date| Ok(hostile_common::rows(date, 1)),
}
