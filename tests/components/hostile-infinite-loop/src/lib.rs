//! Hostile test fixture `HostileInfiniteLoop`: spins forever.

fixture_common::processor! {
    HostileInfiniteLoop,
    info: hostile_common::info("HostileInfiniteLoop", "hostile_infinite_loop"),
    process: |_| {
        let mut counter: u64 = 0;
        loop {
            counter = std::hint::black_box(counter.wrapping_add(1));
        }
    },
}
