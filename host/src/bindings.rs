//! Host-side bindings generated from the WIT package in `wit/`: the ground
//! floor. The plain data types (rows, schemas, column batches) build on
//! them, storage serves them and the sandbox passes them to the guest;
//! this module imports nothing of Slate's.
//!
//! Imports are trappable: a host function returns `wasmtime::Result` whose
//! error traps the guest, while the WIT-level `result` carries errors the
//! guest can handle (such as reading an undeclared table).

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "processor-plugin",
    path: "../wit",
    imports: { default: trappable },
    additional_derives: [PartialEq],
});

pub use self::exports::slate::processor::processor::{
    BadRowPolicy, GapPolicy, Lookback, Phase, ProcessError, ProcessorInfo, UpstreamPolicy,
};
pub use self::season::exports::slate::processor::season::{MonthDay, SeasonReads};
pub use self::slate::processor::host::{LogLevel, ReadError};
pub use self::slate::processor::types::{
    CodedColumn, CodedColumnBatch, Column, ColumnBatch, ColumnValues, Date, Field, FieldMode,
    FieldType, PackedText, Row, RowSet, Scalar, TableRef, Value,
};

/// The optional `season` export (0.1.2), bound apart from the world every
/// component has: a component without it is found out by
/// [`season::exports::slate::processor::season::GuestIndices::new`]
/// failing, not by failing to link.
pub mod season {
    wasmtime::component::bindgen!({
        world: "season-declaration",
        path: "../wit",
        additional_derives: [PartialEq, Eq, Hash],
    });
}
