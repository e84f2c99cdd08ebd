//! Hostile test fixture `HostileReadLimitSwallow`: reads the control table,
//! and when the host refuses the read for the run's limit on rows read,
//! takes it as no rows and returns its rows anyway, as a processor that
//! treats a failed read as an empty table would. The host must fail the
//! run with the breach, not load rows made without the data.

use slate_sdk::table;

fixture_common::processor! {
    HostileReadLimitSwallow,
    info: hostile_common::info("HostileReadLimitSwallow", "hostile_read_limit_swallow"),
    process: |date| {
        let read = slate_sdk::read_rows(&table(hostile_common::CONTROL), date, date)
            .map(|rows| rows.rows.len())
            .unwrap_or(0);
        Ok(hostile_common::rows(date, read as i64 + 1))
    },
}
