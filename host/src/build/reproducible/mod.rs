//! Byte-reproducible runs of the tools that snapshot an interpreter.
//!
//! componentize-py and componentize-js start an interpreter, load the
//! processor into it and write its memory into the component. Two builds of
//! the same files then differ wherever that memory kept something of the
//! moment it was taken:
//! - randomness drawn through `getrandom` (CPython's hash secret, the
//!   state of a seeded generator);
//! - the times, devices and inode numbers of the files the tool extracted or
//!   wrote for this build, read through `stat` (CPython's import system
//!   keeps each search folder's modification time);
//! - the clocks, read without a system call through the vDSO (CPython's
//!   allocator seeds its free-list keys from the steady clock under WASI;
//!   SpiderMonkey's collector budgets its work by time).
//!
//! On Linux (x86-64 and AArch64, 5.9 or later) [`output`] runs such a tool
//! under a seccomp filter that hands those calls to a supervisor thread in
//! `slate` (seccomp user notification; no privileges needed):
//! - `getrandom` gets the same bytes in every build of the same files: each
//!   thread's n-th draw is the n-th block of a stream seeded with a hash of
//!   the processor's own files ([`Pinning::seed`]);
//! - `stat`, `lstat`, `fstat`, `newfstatat` and `statx` are carried out by
//!   the supervisor on the tool's behalf. A file in one of the build's own
//!   folders ([`Pinning::own_folders`]: the staged sources, the tool's
//!   temporary folder) reports the times [`PINNED_EPOCH`], one device, and
//!   an inode number hashed from its path inside that folder. Other files
//!   report what they have, so the tool's own caches behave as usual;
//! - `getcwd` in the build's working folder answers [`WORKING_FOLDER`], so
//!   that a path the tool makes from it is the same in every build;
//! - each process's dynamic loader, reading `/etc/ld.so.preload`, is handed
//!   a list naming the frozen-clock library (`frozen_clock.c`, compiled by
//!   the build script), so every process of the tool, however it was
//!   started and whatever environment it was given, reads frozen clocks.
//!
//! A call the supervisor cannot carry out (an unreadable argument, a file
//! descriptor it cannot reopen) is left to the kernel, unchanged. Where the
//! filter cannot be installed the tool runs as it is, and the build warns
//! that its bytes may differ from one build to the next.

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod linux;

use std::io;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The time every pinned file reports, and the wall clock the tool reads:
/// 1980-01-01T00:00:00Z, the earliest a zip archive can hold.
pub const PINNED_EPOCH: i64 = 315_532_800;

/// What a pinned run of a tool treats as the build's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Pinning {
    /// Seeds the randomness the tool draws: a hash of the processor's own
    /// files, so that each processor gets its own hash secret and
    /// allocator keys, and the same files get the same ones.
    pub seed: u64,
    /// The folders the build made for the tool (the staged sources, the
    /// WIT, the tool's temporary and working folders): everything in them
    /// reports pinned metadata.
    pub own_folders: Vec<PathBuf>,
    /// The tool's working folder, which its processes see as
    /// [`WORKING_FOLDER`] (it should be one of the own folders).
    pub working_folder: Option<PathBuf>,
}

/// Whether this system can pin a tool's randomness, file metadata and
/// clocks.
pub(super) fn available() -> bool {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    return linux::supported();
    #[allow(unreachable_code)]
    false
}

/// How a process working in the build's working folder spells its working
/// folder (through `getcwd`, so through a shell's `PWD` too): a path that
/// names that folder from every process, and is the same in every build.
pub const WORKING_FOLDER: &str = "/proc/self/cwd";

/// Runs `command` to completion, capturing its output like
/// [`Command::output`], with its randomness, the metadata of the build's
/// own files, its working folder and its clocks pinned as `pinning` says,
/// where [`available`].
pub(super) fn output(command: &mut Command, pinning: &Pinning) -> io::Result<Output> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    if linux::supported() {
        return linux::output(command, pinning);
    }
    let _ = pinning;
    tracing::warn!(
        "this system cannot pin a build's randomness, file times and clocks (that needs Linux \
         5.9 or later on x86-64 or AArch64): the component's bytes may differ between builds"
    );
    command.output()
}

/// The bytes of a thread's `draw`-th `getrandom` call (counted from 0): a
/// SplitMix64 stream seeded with the build's `seed` and the draw's number,
/// so that a retry (of a temporary name that was taken, say) gets new bytes
/// while every build of the same files gets the same ones.
fn fixed_entropy(seed: u64, draw: u64, len: usize) -> Vec<u8> {
    let mut state = seed ^ draw.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_gets_the_same_bytes_every_time_and_the_next_draw_or_another_seed_new_ones() {
        assert_eq!(fixed_entropy(7, 0, 40), fixed_entropy(7, 0, 40));
        assert_eq!(&fixed_entropy(7, 3, 40)[..16], &fixed_entropy(7, 3, 16)[..]);
        assert_ne!(fixed_entropy(7, 0, 16), fixed_entropy(7, 1, 16));
        assert_ne!(fixed_entropy(7, 0, 16), fixed_entropy(8, 0, 16));
        let bytes = fixed_entropy(7, 0, 64);
        assert!(bytes.windows(8).any(|w| w != &bytes[..8]));
    }
}
