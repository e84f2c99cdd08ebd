//! Hostile test fixture `LogFlood`: calls `host.log` as many times as its
//! control row says (`lines`), each with a 10 KB error-level message of
//! stack frames in a bundle `app.js` (which a source map carried beside the
//! component would map).

use slate_sdk::LogLevel;

fixture_common::processor! {
    LogFlood,
    info: hostile_common::info("LogFlood", "hostile_log_flood"),
    process: |date| {
        let lines = hostile_common::control(date, "lines")?;
        let message = "flood@app.js:1:1 ".repeat(10_000 / 17);
        for _ in 0..lines {
            slate_sdk::log(LogLevel::Error, &message);
        }
        Ok(hostile_common::rows(date, 1))
    },
}
