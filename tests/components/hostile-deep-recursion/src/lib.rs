//! Hostile test fixture `HostileDeepRecursion`: recurses until the stack is exhausted.

/// Recurses without end, with a frame that cannot be optimised away.
#[allow(unconditional_recursion, reason = "exhausting the stack is the point")]
fn descend(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    descend(depth + 1).wrapping_add(frame[(depth % 64) as usize])
}

fixture_common::processor! {
    HostileDeepRecursion,
    info: hostile_common::info("HostileDeepRecursion", "hostile_deep_recursion"),
    process: |date| Ok(hostile_common::rows(date, descend(0) as i64)),
}
