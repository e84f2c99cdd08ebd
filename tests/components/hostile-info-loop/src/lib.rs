//! Hostile test fixture `InfoLoop`: loops forever in `info()`, so that
//! loading it would stall every command that loads processors.

fixture_common::processor! {
    InfoLoop,
    info: {
        let mut spins: u64 = 0;
        loop {
            spins = std::hint::black_box(spins.wrapping_add(1));
            if std::hint::black_box(spins) == u64::MAX {
                break;
            }
        }
        hostile_common::info("InfoLoop", "hostile_info_loop")
    },
    process: |date| Ok(hostile_common::rows(date, 1)),
}
