//! Hostile test fixture `HostileMemoryBomb`: grows memory 16 MiB at a time until refused.

fixture_common::processor! {
    HostileMemoryBomb,
    info: hostile_common::info("HostileMemoryBomb", "hostile_memory_bomb"),
    process: |_| {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // 16 MiB at a time, touched so it is really used.
            hoard.push(vec![1u8; 16 << 20]);
            std::hint::black_box(&hoard);
        }
    },
}
