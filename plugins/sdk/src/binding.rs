//! The binding boilerplate every processor would otherwise write again:
//! [`processor!`](crate::processor) turns a declaration and a `process`
//! function into the exported component, and
//! [`batch_reader!`](crate::batch_reader) turns a list of fields into the
//! columns to read and the function that reads them out of a
//! [`ColumnBatch`](crate::ColumnBatch). Both are declarative macros over
//! the plain API ([`Guest`](crate::Guest), [`export!`](crate::export),
//! [`ColumnBatch::column`](crate::ColumnBatch::column)); a processor that
//! needs something else writes that by hand.

/// The component of a processor: a unit struct implementing
/// [`Guest`](crate::Guest), whose `info` is the declaration's and whose
/// `process` is the function named, and [`SeasonGuest`](crate::SeasonGuest),
/// which answers the declaration's [`season`](crate::Declaration::season);
/// exported on wasm32
/// (natively the crate is a library its unit tests use).
///
/// ```text
/// slate_sdk::processor! {
///     /// The processor, exported as the component.
///     pub struct GamesPerTeam(DECLARATION, process);
/// }
///
/// fn process(date: Date) -> Result<RowSet, ProcessError> { ... }
/// ```
#[macro_export]
macro_rules! processor {
    ($(#[$meta:meta])* $vis:vis struct $name:ident($declaration:path, $process:path);) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::Guest for $name {
            fn info() -> $crate::ProcessorInfo {
                $declaration.info()
            }

            fn process(
                date: $crate::Date,
            ) -> ::core::result::Result<$crate::RowSet, $crate::ProcessError> {
                $process(date)
            }
        }

        impl $crate::SeasonGuest for $name {
            fn reads_over_season() -> ::core::option::Option<$crate::SeasonReads> {
                $declaration.season_reads()
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!($name with_types_in $crate::bindings);
    };
}

/// The columns a struct is read from and the function that reads every
/// row of a [`ColumnBatch`](crate::ColumnBatch) into it, from one list of
/// its fields, so that each column's name is written once.
///
/// Each `field: getter` reads the column named like the field with that
/// [`Column`](crate::Column) getter (`string`, `int64`, `float64`,
/// `optional_float64`, `boolean`, `day`, `date`, `strings`, `value`);
/// `field: getter = "column"` reads a column of another name. The constant
/// lists those columns in order, to pass to the read. After `..`, a field
/// may instead be read through a handle made once per batch from the
/// batch (named in the signature), as `field: handle => method`, which
/// calls `handle.method(row)`; its columns are not in the constant.
///
/// ```text
/// slate_sdk::batch_reader! {
///     /// The columns of the prop lines a prediction uses.
///     const LINE_COLUMNS;
///     /// Reads the prop lines.
///     fn read_lines(batch) -> PropLine<'_> {
///         game_day: day = "game_date",
///         player_lookup: string,
///         points_line: float64,
///         ..
///         zones: ZoneShotColumns::of(batch, "")? => read,
///     }
/// }
/// ```
///
/// `fn name(batch in read)` reads a [`CodedColumnBatch`](crate::CodedColumnBatch)
/// instead: the plain fields from `read.batch` (named `batch`, as above),
/// and the handles may take coded columns from `read`, as
/// `player_code: read.coded("player_lookup")? => code`.
///
/// A missing column is a `missing-data` error naming it, and a bad cell an
/// `invalid-input` error naming its column and row, as the getters report.
#[macro_export]
macro_rules! batch_reader {
    (
        $(#[$columns_meta:meta])* $columns_vis:vis const $columns:ident;
        $(#[$meta:meta])* $vis:vis fn $name:ident($batch:ident $(in $read:ident)?) -> $record:ident $(<$lifetime:lifetime>)? {
            $($field:ident: $getter:ident $(= $column:literal)?),* $(,)?
            $(.. $($handle_field:ident: $handle:expr => $method:ident),* $(,)?)?
        }
    ) => {
        $(#[$columns_meta])*
        $columns_vis const $columns: &[&str] = &[$($crate::batch_reader!(@column $field $($column)?)),*];

        $(#[$meta])*
        $vis fn $name(
            $crate::batch_reader!(@parameter $batch $($read)?): $crate::batch_reader!(@type $($read)?),
        ) -> ::core::result::Result<::std::vec::Vec<$record $(<$lifetime>)?>, $crate::ProcessError> {
            $(let $batch = &$read.batch;)?
            $(let $field = $batch.column($crate::batch_reader!(@column $field $($column)?))?;)*
            $($(let $handle_field = $handle;)*)?
            $batch.map_rows(|row| {
                Ok($record {
                    $($field: $field.$getter(row)?,)*
                    $($($handle_field: $handle_field.$method(row)?,)*)?
                })
            })
        }
    };
    (@parameter $batch:ident) => {
        $batch
    };
    (@parameter $batch:ident $read:ident) => {
        $read
    };
    (@type) => {
        &$crate::ColumnBatch
    };
    (@type $read:ident) => {
        &$crate::CodedColumnBatch
    };
    (@column $field:ident) => {
        stringify!($field)
    };
    (@column $field:ident $column:literal) => {
        $column
    };
}
