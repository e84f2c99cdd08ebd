//! Hostile test fixture `HostilePanic`: panics.

fixture_common::processor! {
    HostilePanic,
    info: hostile_common::info("HostilePanic", "hostile_panic"),
    process: |date| panic!("hostile panic on {date}"),
}
