//! Hostile test fixture `HostileDeepRecursion`: recurses until the stack is exhausted.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostileDeepRecursion;

/// Recurses without end, with a frame that cannot be optimised away.
#[allow(unconditional_recursion, reason = "exhausting the stack is the point")]
fn descend(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    descend(depth + 1).wrapping_add(frame[(depth % 64) as usize])
}

impl Guest for HostileDeepRecursion {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostileDeepRecursion", "hostile_deep_recursion")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(hostile_common::rows(date, descend(0) as i64))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostileDeepRecursion);
