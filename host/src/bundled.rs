//! The standard processors, built from `plugins/` and bundled into the binary.

/// One bundled processor component.
#[derive(Debug, Clone, Copy)]
pub struct BundledPlugin {
    /// The crate it was built from, e.g. `player-game-summary`.
    pub package: &'static str,
    /// The component bytes.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"));
