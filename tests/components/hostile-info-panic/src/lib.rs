//! Hostile test fixture `InfoPanic`: panics in `info()`.

fixture_common::processor! {
    InfoPanic,
    info: panic!("hostile info panic: no description today"),
    process: |date| Ok(hostile_common::rows(date, 1)),
}
