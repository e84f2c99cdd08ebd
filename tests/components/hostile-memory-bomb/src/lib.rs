//! Hostile test fixture `HostileMemoryBomb`: grows memory 16 MiB at a time until refused.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostileMemoryBomb;

impl Guest for HostileMemoryBomb {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostileMemoryBomb", "hostile_memory_bomb")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let _ = date;
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // 16 MiB at a time, touched so it is really used.
            hoard.push(vec![1u8; 16 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostileMemoryBomb);
