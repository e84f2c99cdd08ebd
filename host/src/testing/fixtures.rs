//! Fixture input tables for `slate test`: one NDJSON or CSV file per
//! declared input table, named `dataset.table.ndjson` or `dataset.table.csv`.
//!
//! Each line is typed by the table's schema: the schemas of the demo raw
//! tables and of the bundled processors' outputs are known, and any other
//! table's schema can sit beside its rows as `dataset.table.schema.json`
//! (a [`TableSchema`] in JSON). Every problem names the file, the line and
//! the field.
//!
//! A fixture need only hold the columns the processor reads: a column
//! absent from a whole file (not in the CSV header, in no NDJSON line) is
//! left out, and reading it is an error naming it. A golden file
//! (`*.expected.ndjson`) may sit beside the fixtures; it is not one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::rows::{
    CellMismatch, Row, RowSet, Scalar, Value, naive_date, value_from_json, value_from_raw_json,
    value_from_text,
};
use crate::schema::{TableName, TableSchema};
use crate::store::input::{InputError, InputSource, TableSpan};

/// A fixture that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixtureError {
    /// The file name is not `dataset.table.ndjson|csv|schema.json`.
    #[error(
        "{file}: expected a name like dataset.table.ndjson, dataset.table.csv or dataset.table.schema.json"
    )]
    BadName {
        /// The file.
        file: String,
    },
    /// A folder in the fixtures folder, whose files would not be read.
    #[error(
        "{folder}: a folder in the fixtures folder: its files would not be read (fixtures are \
         the files of the fixtures folder itself)"
    )]
    Subfolder {
        /// The folder.
        folder: String,
    },
    /// The file holds a table the processor did not declare.
    #[error("{file}: table {table} is not among the processor's declared inputs ({declared})")]
    UndeclaredTable {
        /// The file.
        file: String,
        /// The table its name gives.
        table: String,
        /// The declared inputs.
        declared: String,
    },
    /// No schema is known for the table.
    #[error("{file}: no schema is known for {table}; put {table}.schema.json beside it")]
    NoSchema {
        /// The file.
        file: String,
        /// The table.
        table: String,
    },
    /// A line or the file could not be read at all.
    #[error("{file}{}: {message}", at_line(*line))]
    Malformed {
        /// The file.
        file: String,
        /// The 1-based line; 0 for the file (or folder) as a whole.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// Two rows of one date hold one key, which a raw input's read refuses
    /// in production.
    #[error(
        "{file}:{second}: the row on line {second} of {date} has the key of line {first}, {key}"
    )]
    KeyTwice {
        /// The file.
        file: String,
        /// The line of the first row holding it.
        first: u64,
        /// The line of the second.
        second: u64,
        /// The partition date.
        date: String,
        /// The key, as `column=value` pairs.
        key: String,
    },
    /// Two files give one table (`t.ndjson` and `t.csv`).
    #[error("{first} and {second} both give {table}: keep one")]
    TwoFiles {
        /// The table.
        table: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// One field of one line does not hold a value of its column.
    #[error("{file}:{line}: field `{}`: {source}", source.column)]
    BadCell {
        /// The file.
        file: String,
        /// The 1-based line.
        line: u64,
        /// The field (its name is [`CellMismatch::column`]), what its column
        /// takes and what it holds.
        #[source]
        source: CellMismatch,
    },
    /// A declared input has no file.
    #[error(
        "{dir}: no file for the declared input {table}; put {table}.ndjson or {table}.csv \
         there (an empty file for an empty table)"
    )]
    MissingTable {
        /// The fixtures folder.
        dir: String,
        /// The declared input.
        table: String,
    },
    /// One field of one line (of the whole file, for line 0) is wrong.
    #[error("{file}{}: field `{field}`: {message}", at_line(*line))]
    BadField {
        /// The file.
        file: String,
        /// The 1-based line.
        line: u64,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// `:N` for line `N`; nothing for line 0, the file as a whole.
fn at_line(line: u64) -> String {
    match line {
        0 => String::new(),
        line => format!(":{line}"),
    }
}

/// A fixture file's text: UTF-8, or an error naming the line of the first
/// byte that is not.
pub(crate) fn read_text(path: &Path) -> Result<String, FixtureError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| FixtureError::Malformed {
        file: file.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        FixtureError::Malformed {
            file,
            line: valid.iter().filter(|b| **b == b'\n').count() as u64 + 1,
            message: "not UTF-8 text".into(),
        }
    })?;
    // Editors on Windows start a file with a byte-order mark.
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// One line of an NDJSON fixture or golden file as a JSON object, or what
/// is wrong with it. A field given twice is wrong: JSON parsers keep its
/// last value, so a row with a pasted-over field would pass or fail a test
/// on a value its author never saw.
pub(crate) fn json_object_line(
    line: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let object = serde_json::from_str(line).map_err(|e| not_an_object(line, &e))?;
    let mut fields = serde_json::Deserializer::from_str(line);
    let FieldNames(names) =
        serde::Deserialize::deserialize(&mut fields).map_err(|e| not_an_object(line, &e))?;
    let mut seen = std::collections::BTreeSet::new();
    match names.into_iter().find(|name| !seen.insert(name.clone())) {
        Some(twice) => Err(format!("field `{twice}` is given twice")),
        None => Ok(object),
    }
}

/// What is wrong with `line`, which JSON could not read (`error`): naming
/// the field whose value it stopped at, and the value as written. NaN and
/// infinity, which JSON has not, are said to be so.
fn not_an_object(line: &str, error: &serde_json::Error) -> String {
    let at = error.column().saturating_sub(1).min(line.len());
    let field = (0..=at)
        .rev()
        .find(|end| line.is_char_boundary(*end))
        .and_then(|end| field_before(line, end));
    let Some((field, value)) = field else {
        return format!("not a JSON object: {error}{}", near(line, at));
    };
    let bare = value.trim_start_matches(['-', '+']);
    if ["NaN", "nan", "Infinity", "inf"]
        .iter()
        .any(|word| bare.starts_with(word))
    {
        return format!(
            "field `{field}`: {value} is not allowed: JSON has no NaN or infinity (give null, \
             or a number)"
        );
    }
    format!("field `{field}` = {value}: not a JSON object: {error}")
}

/// `, at `…`` quoting the text of `line` that JSON stopped at `at` in: from
/// the last `,`, `{` or `}` before it, at most 40 characters.
fn near(line: &str, at: usize) -> String {
    let end = (at + 1..=line.len())
        .find(|end| line.is_char_boundary(*end))
        .unwrap_or(line.len());
    let start = line[..at.min(end)]
        .rfind([',', '{', '}'])
        .map_or(0, |separator| separator + 1);
    let text = line[start..end].trim();
    if text.is_empty() {
        return String::new();
    }
    format!(", at `{}`", crate::rows::cut_short(text.to_string(), 40))
}

/// The field whose value the text of `line` before `end` runs into, with
/// that value as written (to the next `,` or `}`): `"minutes": NaN` gives
/// `minutes` and `NaN`. None when that field's value ended before `end`
/// (a `,` or `}` after its colon): JSON stopped past it, at a key cut
/// short or at text after the object, which no field holds.
fn field_before(line: &str, end: usize) -> Option<(String, String)> {
    let colon = line[..end].rfind(':')?;
    if line[colon + 1..end].contains([',', '}']) {
        return None;
    }
    let key = line[..colon].trim_end().strip_suffix('"')?;
    // The key's opening quote: the last one no backslash escapes.
    let opening = (key.char_indices().rev())
        .filter(|(at, c)| *c == '"' && !key[..*at].ends_with('\\'))
        .map(|(at, _)| at)
        .next()?;
    let name = serde_json::from_str::<String>(&format!("\"{}\"", &key[opening + 1..]))
        .unwrap_or_else(|_| key[opening + 1..].to_string());
    let value = line[colon + 1..]
        .split([',', '}'])
        .next()
        .unwrap_or_default()
        .trim();
    Some((name.to_string(), value.to_string()))
}

/// The field names of a JSON object, in order, repeats included.
struct FieldNames(Vec<String>);

impl<'de> serde::Deserialize<'de> for FieldNames {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> serde::de::Visitor<'de> for Names {
            type Value = FieldNames;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FieldNames, A::Error> {
                let mut names = Vec::new();
                while let Some((name, serde::de::IgnoredAny)) = map.next_entry::<String, _>()? {
                    names.push(name);
                }
                Ok(FieldNames(names))
            }
        }
        deserializer.deserialize_map(Names)
    }
}

/// Fixture tables, in memory, served to a processor as its inputs.
#[derive(Debug, Default)]
pub struct Fixtures {
    tables: BTreeMap<TableName, FixtureTable>,
}

/// One fixture table: its schema, its rows (every column, absent ones
/// null) and the columns its file does not hold.
#[derive(Debug, Clone)]
struct FixtureTable {
    schema: TableSchema,
    rows: RowSet,
    absent: Vec<String>,
}

/// The file suffix of a golden file, which may sit among the fixtures.
pub const GOLDEN_SUFFIX: &str = ".expected.ndjson";

enum Format {
    Ndjson,
    Csv,
    Schema,
}

fn file_table(path: &Path) -> Option<(TableName, Format)> {
    let name = path.file_name()?.to_str()?;
    let (stem, format) = if let Some(stem) = name.strip_suffix(".schema.json") {
        (stem, Format::Schema)
    } else if let Some(stem) = name.strip_suffix(".ndjson") {
        (stem, Format::Ndjson)
    } else if let Some(stem) = name.strip_suffix(".csv") {
        (stem, Format::Csv)
    } else {
        return None;
    };
    Some((TableName::parse(stem)?, format))
}

impl Fixtures {
    /// Loads every fixture in `dir`. `known` gives the schema of tables
    /// that have no `.schema.json` beside them.
    pub fn load(
        dir: &Path,
        declared: &[TableName],
        known: &dyn Fn(&TableName) -> Option<TableSchema>,
    ) -> Result<Fixtures, FixtureError> {
        let unreadable = |file: &Path, message: String| FixtureError::Malformed {
            file: file.display().to_string(),
            line: 0,
            message,
        };
        let entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| unreadable(dir, format!("cannot list the fixtures folder: {e}")))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| !is_a_note(path))
            .collect();
        // Its files alone are read: fixtures in a folder in it would be
        // passed over in silence.
        if let Some(folder) = entries.iter().filter(|path| path.is_dir()).min() {
            return Err(FixtureError::Subfolder {
                folder: folder.display().to_string(),
            });
        }
        let mut paths: Vec<PathBuf> = entries
            .into_iter()
            .filter(|path| path.is_file())
            .filter(|path| !path.to_string_lossy().ends_with(GOLDEN_SUFFIX))
            .collect();
        paths.sort();
        let mut schemas: BTreeMap<TableName, TableSchema> = BTreeMap::new();
        let mut data: Vec<(PathBuf, TableName, Format)> = Vec::new();
        for path in paths {
            let file = path.display().to_string();
            let (table, format) =
                file_table(&path).ok_or(FixtureError::BadName { file: file.clone() })?;
            match format {
                Format::Schema => {
                    // A schema of a table the processor does not read is
                    // a misspelt name, or a leftover: it would be passed
                    // over in silence.
                    if !declared.contains(&table) {
                        return Err(undeclared(file, &table, declared));
                    }
                    let text = read_text(&path)?;
                    let schema: TableSchema =
                        serde_json::from_str(&text).map_err(|e| FixtureError::Malformed {
                            file: file.clone(),
                            line: e.line() as u64,
                            message: match text.trim_start().starts_with('[') {
                                // serde's own words ("invalid type: map,
                                // expected a sequence") read backwards here.
                                true => "a list of columns, as `slate schemas` writes a \
                                         BigQuery schema, is not a table schema: put the list \
                                         under \"columns\", beside \"partition_column\" \
                                         and \"key_columns\""
                                    .to_string(),
                                false => format!(
                                    "not a table schema, {{\"columns\": [{{\"name\", \
                                     \"type\", \"mode\"}}, ...], \"partition_column\": ..., \
                                     \"key_columns\": [...]}}: {e}"
                                ),
                            },
                        })?;
                    let problems = schema.problems();
                    if !problems.is_empty() {
                        return Err(FixtureError::Malformed {
                            file,
                            line: 0,
                            message: format!("not a usable table schema: {}", problems.join("; ")),
                        });
                    }
                    // A known table's schema is production's: a test
                    // against another would pass where production fails.
                    if known(&table).is_some() {
                        return Err(FixtureError::Malformed {
                            file,
                            line: 0,
                            message: format!(
                                "{table} is a known table, whose schema is production's: \
                                 a .schema.json is only for a table the host does not know"
                            ),
                        });
                    }
                    schemas.insert(table, schema);
                }
                Format::Ndjson | Format::Csv => {
                    if !declared.contains(&table) {
                        return Err(undeclared(file, &table, declared));
                    }
                    if let Some((first, _, _)) = data.iter().find(|(_, t, _)| *t == table) {
                        return Err(FixtureError::TwoFiles {
                            table: table.to_string(),
                            first: first.display().to_string(),
                            second: file,
                        });
                    }
                    data.push((path, table, format));
                }
            }
        }
        if let Some(missing) = declared
            .iter()
            .find(|input| !data.iter().any(|(_, table, _)| table == *input))
        {
            return Err(FixtureError::MissingTable {
                dir: dir.display().to_string(),
                table: missing.to_string(),
            });
        }
        let mut fixtures = Fixtures::default();
        for (path, table, format) in data {
            let file = path.display().to_string();
            let schema = schemas
                .get(&table)
                .cloned()
                .or_else(|| known(&table))
                .ok_or_else(|| FixtureError::NoSchema {
                    file: file.clone(),
                    table: table.to_string(),
                })?;
            let text = read_text(&path)?;
            let FileRows {
                rows,
                absent,
                lines,
            } = match format {
                Format::Ndjson => read_ndjson(&file, &text, &schema)?,
                _ => read_csv(&file, &text, &schema)?,
            };
            // Every row is dated by its partition column: a file without
            // it would read as a table with no rows on any date.
            if !rows.is_empty() && absent.contains(&schema.partition_column) {
                return Err(bad_field(
                    &file,
                    0,
                    &schema.partition_column,
                    "no row holds the table's partition column, which dates each row".into(),
                ));
            }
            // A key column left out of the whole file (the processor does
            // not read it) reads null in every row: no key to compare.
            if !schema.key_columns.iter().any(|key| absent.contains(key)) {
                refuse_a_key_twice(&file, &schema, &rows, &lines)?;
            }
            let columns = schema.columns.iter().map(|c| c.name.clone()).collect();
            fixtures.tables.insert(
                table,
                FixtureTable {
                    schema,
                    rows: RowSet { columns, rows },
                    absent,
                },
            );
        }
        Ok(fixtures)
    }

    /// The tables loaded.
    pub fn tables(&self) -> impl Iterator<Item = &TableName> {
        self.tables.keys()
    }
}

/// Refuses `rows` of `schema` where two rows of one date share the key,
/// as the store refuses such raw rows when a run reads them.
fn refuse_a_key_twice(
    file: &str,
    schema: &TableSchema,
    rows: &[Row],
    lines: &[u64],
) -> Result<(), FixtureError> {
    if schema.key_columns.is_empty() {
        return Ok(());
    }
    let Some(partition) = schema.index_of(&schema.partition_column) else {
        return Ok(());
    };
    let keys: Vec<usize> = schema
        .key_columns
        .iter()
        .filter_map(|k| schema.index_of(k))
        .collect();
    let mut seen: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for (row, &line) in rows.iter().zip(lines) {
        let date = crate::rows::value_json(&row[partition]);
        let mut identity = vec![
            date.as_str()
                .map_or_else(|| date.to_string(), str::to_string),
        ];
        identity.extend(
            keys.iter()
                .map(|&k| crate::rows::value_json(&row[k]).to_string()),
        );
        if let Some(first) = seen.insert(identity.clone(), line) {
            let key: Vec<String> = schema
                .key_columns
                .iter()
                .zip(&identity[1..])
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            return Err(FixtureError::KeyTwice {
                file: file.to_string(),
                first,
                second: line,
                date: identity[0].clone(),
                key: key.join(", "),
            });
        }
    }
    Ok(())
}

/// The error for `file`, a fixture of `table`, which the processor does
/// not declare among its inputs (`declared`).
fn undeclared(file: String, table: &TableName, declared: &[TableName]) -> FixtureError {
    FixtureError::UndeclaredTable {
        file,
        table: table.to_string(),
        declared: declared
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn bad_field(file: &str, line: u64, field: &str, message: String) -> FixtureError {
    FixtureError::BadField {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message,
    }
}

/// The rows of an NDJSON fixture ([`FileRows`]).
fn read_ndjson(file: &str, text: &str, schema: &TableSchema) -> Result<FileRows, FixtureError> {
    let mut objects = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |message| FixtureError::Malformed {
            file: file.to_string(),
            line: number,
            message,
        };
        json_object_line(line).map_err(malformed)?;
        // Each field as written: a JSON or NUMERIC cell parsed and written
        // again would not be the value its author wrote.
        let object: BTreeMap<String, &serde_json::value::RawValue> =
            serde_json::from_str(line).map_err(|e| malformed(format!("not a JSON object: {e}")))?;
        if let Some(unknown) = object.keys().find(|k| schema.index_of(k).is_none()) {
            return Err(bad_field(
                file,
                number,
                unknown,
                "not in the table's schema".into(),
            ));
        }
        objects.push((number, object));
    }
    // An empty file is an empty table, with every column.
    if objects.is_empty() {
        return Ok(FileRows::default());
    }
    let held: Vec<bool> = schema
        .columns
        .iter()
        .map(|c| objects.iter().any(|(_, o)| o.contains_key(&c.name)))
        .collect();
    let mut rows = Vec::with_capacity(objects.len());
    for (number, object) in &objects {
        let mut row = Vec::with_capacity(schema.columns.len());
        for (column, held) in schema.columns.iter().zip(&held) {
            let value = match object.get(&column.name) {
                Some(raw) => value_from_raw_json(column, raw),
                None => value_from_json(column, &serde_json::Value::Null),
            };
            row.push(checked(value, *held, file, *number, column)?);
        }
        rows.push(row);
    }
    let lines = objects.iter().map(|(number, _)| *number).collect();
    Ok(FileRows {
        rows,
        absent: absent(schema, &held),
        lines,
    })
}

/// What a fixture file holds: its rows, the columns no row holds, and the
/// line each row starts on.
#[derive(Debug, Default)]
struct FileRows {
    rows: Vec<Row>,
    absent: Vec<String>,
    lines: Vec<u64>,
}

/// The names of the columns of `schema` that `held` says no file holds.
fn absent(schema: &TableSchema, held: &[bool]) -> Vec<String> {
    schema
        .columns
        .iter()
        .zip(held)
        .filter(|(_, held)| !**held)
        .map(|(c, _)| c.name.clone())
        .collect()
}

/// A file a fixtures folder may hold besides its tables, and that is no
/// fixture: a hidden file (`.gitkeep`, an editor's swap file) or a Markdown
/// note (`README.md`). Any other name must name a table, so that a typo in
/// one (`nba_raw.box.ndjosn`) is refused, not passed over.
fn is_a_note(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.starts_with('.') || name.ends_with(".md")
}

/// The rows of a CSV fixture ([`FileRows`]): the columns no row holds are
/// those its header leaves out.
fn read_csv(file: &str, text: &str, schema: &TableSchema) -> Result<FileRows, FixtureError> {
    if let Some(line) = unterminated_quote(text) {
        return Err(FixtureError::Malformed {
            file: file.into(),
            line,
            message: "a quoted field opened here is never closed: add its closing `\"`".into(),
        });
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| FixtureError::Malformed {
            file: file.into(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    // An empty file is an empty table, with every column.
    if headers.is_empty() && text.trim().is_empty() {
        return Ok(FileRows::default());
    }
    let mut positions = Vec::with_capacity(headers.len());
    for header in &headers {
        let index = schema
            .index_of(header)
            .ok_or_else(|| bad_field(file, 1, header, "not in the table's schema".into()))?;
        if positions.contains(&index) {
            return Err(bad_field(
                file,
                1,
                header,
                "given twice in the header".into(),
            ));
        }
        positions.push(index);
    }
    let held: Vec<bool> = (0..schema.columns.len())
        .map(|i| positions.contains(&i))
        .collect();
    // The line a record starts on, counted from its byte offset: with
    // CRLF endings the csv crate ends a line at its `\r`, and counts the
    // `\n` as the start of the next record, one line short. Records come
    // in order, so the count goes on from the last one's.
    let counted = std::cell::Cell::new((0usize, 1u64));
    let line_at = |position: Option<&csv::Position>| {
        position.map_or(0, |p| {
            let bytes = text.as_bytes();
            let mut start = (p.byte() as usize).min(bytes.len());
            while bytes.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
                start += 1;
            }
            let (from, line) = counted.get();
            let from = from.min(start);
            let line = line + bytes[from..start].iter().filter(|&&b| b == b'\n').count() as u64;
            counted.set((start, line));
            line
        })
    };
    let (mut rows, mut lines) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = record.map_err(|e| FixtureError::Malformed {
            file: file.into(),
            line: line_at(e.position()),
            message: e.to_string(),
        })?;
        let number = line_at(record.position());
        let mut cells: Vec<&str> = vec![""; schema.columns.len()];
        for (position, cell) in positions.iter().zip(record.iter()) {
            cells[*position] = cell;
        }
        let mut row = Vec::with_capacity(schema.columns.len());
        for ((column, cell), held) in schema.columns.iter().zip(cells).zip(&held) {
            row.push(checked(
                value_from_text(column, cell),
                *held,
                file,
                number,
                column,
            )?);
        }
        rows.push(row);
        lines.push(number);
    }
    Ok(FileRows {
        rows,
        absent: absent(schema, &held),
        lines,
    })
}

/// The line on which a quoted field opens that the text never closes. The
/// csv crate reads such a field to the end of the file, so every row after
/// the stray quote would vanish into one cell.
fn unterminated_quote(text: &str) -> Option<u64> {
    let (mut line, mut opened_on) = (1u64, None);
    let mut at_field_start = true;
    let mut bytes = text.bytes().peekable();
    while let Some(byte) = bytes.next() {
        match (opened_on, byte) {
            (Some(_), b'"') if bytes.peek() == Some(&b'"') => {
                bytes.next();
            }
            (Some(_), b'"') => opened_on = None,
            (None, b'"') if at_field_start => opened_on = Some(line),
            _ => {}
        }
        if byte == b'\n' {
            line += 1;
        }
        at_field_start = opened_on.is_none() && matches!(byte, b',' | b'\n' | b'\r');
    }
    opened_on
}

/// A parsed cell, also refusing null in a REQUIRED column the file holds
/// (a column the file leaves out entirely is null, and may not be read).
fn checked(
    value: Result<Value, CellMismatch>,
    held: bool,
    file: &str,
    line: u64,
    column: &crate::schema::Column,
) -> Result<Value, FixtureError> {
    let value = value.map_err(|source| FixtureError::BadCell {
        file: file.to_string(),
        line,
        source,
    })?;
    if held && value == Value::Null && column.mode == crate::schema::ColumnMode::Required {
        return Err(bad_field(
            file,
            line,
            &column.name,
            format!(
                "null or missing, but the column is REQUIRED {}",
                column.column_type
            ),
        ));
    }
    // What production refuses of a raw row (NaN, a NUL character, ...)
    // is the fixture's fault, not the processor's.
    if held && let Some(problem) = crate::validate::check_value(&value, column) {
        return Err(bad_field(file, line, &column.name, problem));
    }
    Ok(value)
}

impl Fixtures {
    /// The table's rows in `start..=end`, every column; refuses a read of
    /// any of `wanted` (every column when `None`) the fixture does not hold.
    fn rows_between(
        &self,
        TableSpan { table, start, end }: TableSpan<'_>,
        wanted: Option<&[String]>,
    ) -> Result<RowSet, InputError> {
        let fixture = self
            .tables
            .get(table)
            .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
        let read = |column: &String| wanted.is_none_or(|w| w.contains(column));
        if let Some(missing) = fixture.absent.iter().find(|c| read(c)) {
            return Err(InputError::NotInFixture {
                table: table.clone(),
                column: missing.clone(),
            });
        }
        let schema = &fixture.schema;
        let partition = schema.index_of(&schema.partition_column).ok_or_else(|| {
            InputError::Storage(format!(
                "{table} has no partition column {}",
                schema.partition_column
            ))
        })?;
        let in_range = |row: &&Row| match row.get(partition) {
            Some(Value::Scalar(Scalar::Date(d))) => {
                naive_date(*d).is_some_and(|d| (start..=end).contains(&d))
            }
            _ => false,
        };
        Ok(RowSet {
            columns: fixture.rows.columns.clone(),
            rows: fixture.rows.rows.iter().filter(in_range).cloned().collect(),
        })
    }
}

impl InputSource for Fixtures {
    fn select(
        &self,
        span: TableSpan<'_>,
        columns: Option<&[String]>,
    ) -> Result<RowSet, InputError> {
        let rows = self.rows_between(span, columns)?;
        crate::store::input::keep_columns(span.table, rows, columns)
    }

    /// The fixture's schema, so that a processor tested here reads the
    /// column batches it will read from a store.
    fn schema_of(&self, table: &TableName) -> Result<Option<TableSchema>, InputError> {
        Ok(self.tables.get(table).map(|fixture| fixture.schema.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{Expected, Found};
    use crate::schema::{Column, ColumnMode, ColumnType};

    fn box_scores() -> TableSchema {
        TableSchema {
            columns: vec![
                Column::new("day", ColumnType::Date, ColumnMode::Required),
                Column::new("points", ColumnType::Int64, ColumnMode::Nullable),
            ],
            partition_column: "day".into(),
            key_columns: Vec::new(),
        }
    }

    #[test]
    fn a_cell_of_the_wrong_type_is_refused_naming_the_file_line_and_column() {
        let csv = "day,points\n2026-01-05,3\n2026-01-05,lots\n";
        let error = read_csv("t.csv", csv, &box_scores()).unwrap_err();
        assert_eq!(
            error,
            FixtureError::BadCell {
                file: "t.csv".into(),
                line: 3,
                source: CellMismatch {
                    column: "points".into(),
                    expected: Expected::Scalar(ColumnType::Int64),
                    found: Found::Text("lots".into()),
                },
            }
        );
        assert_eq!(
            error.to_string(),
            "t.csv:3: field `points`: expected INT64, got \"lots\""
        );
        // Lines end in CRLF or LF alike.
        let crlf = csv.replace('\n', "\r\n");
        let error = read_csv("t.csv", &crlf, &box_scores()).unwrap_err();
        assert!(error.to_string().starts_with("t.csv:3: "), "{error}");
        let ndjson = "{\"day\": \"2026-01-05\", \"points\": \"lots\"}\n";
        let error = read_ndjson("t.ndjson", ndjson, &box_scores()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.ndjson:1: field `points`: expected INT64, got \"lots\""
        );
        // A number past INT64 is quoted as written, not as the float it
        // parses to (1e+20), which the file does not hold.
        let ndjson = "{\"day\": \"2026-01-05\", \"points\": 99999999999999999999}\n";
        let error = read_ndjson("t.ndjson", ndjson, &box_scores()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.ndjson:1: field `points`: expected INT64, got 99999999999999999999"
        );
    }

    /// A stray opening quote would swallow every later row into one cell;
    /// it is refused naming the line where the quote opened. Closed quotes,
    /// doubled quotes within them and a quote inside a bare field are fine.
    #[test]
    fn a_quoted_field_never_closed_is_refused_naming_the_line_it_opens_on() {
        let stray = "day,points\n2026-01-05,3\n2026-01-05,\"4\n2026-01-06,5\n2026-01-07,6\n";
        let error = read_csv("t.csv", stray, &box_scores()).unwrap_err();
        assert!(
            matches!(&error, FixtureError::Malformed { line: 3, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("never closed"), "{error}");
        let crlf = stray.replace('\n', "\r\n");
        let error = read_csv("t.csv", &crlf, &box_scores()).unwrap_err();
        assert!(
            matches!(&error, FixtureError::Malformed { line: 3, .. }),
            "{error:?}"
        );

        let closed = "day,points\n\"2026-01-05\",\"3\"\n2026-01-06,4\n";
        let rows = read_csv("t.csv", closed, &box_scores()).unwrap().rows;
        assert_eq!(rows.len(), 2);
        let schema = TableSchema {
            columns: vec![
                Column::new("day", ColumnType::Date, ColumnMode::Required),
                Column::new("name", ColumnType::String, ColumnMode::Nullable),
            ],
            partition_column: "day".into(),
            key_columns: Vec::new(),
        };
        let escaped = "day,name\n2026-01-05,\"say \"\"hi\"\",\nthen\"\n2026-01-06,O\"Neal\n";
        let rows = read_csv("t.csv", escaped, &schema).unwrap().rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0][1],
            Value::Scalar(Scalar::String("say \"hi\",\nthen".into()))
        );
        assert_eq!(rows[1][1], Value::Scalar(Scalar::String("O\"Neal".into())));
    }

    /// What production refuses of a raw row is a bad fixture (exit 4) in
    /// `slate test`, not the processor's failure: a non-finite FLOAT64, a
    /// STRING holding a NUL character.
    #[test]
    fn a_cell_production_refuses_of_a_raw_row_is_refused_naming_it() {
        let mut schema = box_scores();
        schema.columns.push(Column::new(
            "minutes",
            ColumnType::Float64,
            ColumnMode::Nullable,
        ));
        schema.columns.push(Column::new(
            "name",
            ColumnType::String,
            ColumnMode::Nullable,
        ));
        for (ndjson, named) in [
            (
                r#"{"day": "2026-01-05", "minutes": "NaN"}"#,
                "`minutes`: NaN is not allowed",
            ),
            (
                r#"{"day": "2026-01-05", "minutes": "-Infinity"}"#,
                "`minutes`: -inf is not allowed",
            ),
            (
                r#"{"day": "2026-01-05", "name": "Cal\u0000eb"}"#,
                "`name`: \"Cal\\0eb\" holds a NUL",
            ),
            // Unquoted, as a DataFrame writes them: JSON has no such value.
            (
                r#"{"day": "2026-01-05", "minutes": NaN}"#,
                "`minutes`: NaN is not allowed: JSON has no NaN or infinity",
            ),
            (
                r#"{"day": "2026-01-05", "minutes": -Infinity, "name": "x"}"#,
                "`minutes`: -Infinity is not allowed",
            ),
            (
                r#"{"day": "2026-01-05", "minutes": 1e400}"#,
                "`minutes` = 1e400: not a JSON object: number out of range",
            ),
            (
                r#"{"day": "2026-01-05", "min\"u: NaN, tes": NaN}"#,
                "`min\"u: NaN, tes`: NaN is not allowed",
            ),
        ] {
            let error = read_ndjson("t.ndjson", ndjson, &schema).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("t.ndjson:1: field {named}")),
                "{ndjson}: {error}"
            );
        }
        let error = read_csv("t.csv", "day,minutes\n2026-01-05,inf\n", &schema).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("t.csv:2: field `minutes`: inf is not allowed"),
            "{error}"
        );
        // A number past FLOAT64's range is quoted as written, not as the
        // infinity it would read as.
        let error = read_csv("t.csv", "day,minutes\n2026-01-05,1e400\n", &schema).unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.csv:2: field `minutes`: expected FLOAT64, got \"1e400\""
        );
    }

    /// A line JSON stops reading past every field's value (a key cut
    /// short, text after the object) blames no field: before, it named
    /// the last field read, whose value was fine.
    #[test]
    fn a_broken_line_blames_the_text_json_stopped_at_not_a_good_field() {
        for (line, said) in [
            (
                r#"{"day": "2026-01-05", "minutes": 3, "poin"#,
                r#"not a JSON object: EOF while parsing a string at line 1 column 41, at `"poin`"#,
            ),
            (
                r#"{"day": "2026-01-05", "minutes": 3} {"x": 1}"#,
                "not a JSON object: trailing characters at line 1 column 37, at `{`",
            ),
        ] {
            assert_eq!(json_object_line(line).unwrap_err(), said, "{line}");
        }
    }

    /// Every row is dated by its partition column: a file that leaves it
    /// out read as a table with no rows on any date, and a test passed on
    /// a schedule silently empty.
    #[test]
    fn a_file_without_the_partition_column_is_refused() {
        let dir = folder(&[("nba_raw.box.ndjson", b"{\"points\": 3}\n")]);
        let error = load(dir.path()).unwrap_err();
        assert!(
            error.to_string().ends_with(
                "nba_raw.box.ndjson: field `day`: no row holds the table's partition column, \
                 which dates each row"
            ),
            "{error}"
        );
    }

    /// A schema beside a fixture is checked as a processor's is, and its
    /// shape is named when it does not parse.
    #[test]
    fn a_fixture_schema_that_is_not_usable_is_refused_saying_why() {
        let text_partition =
            br#"{"columns": [{"name": "day", "type": "STRING", "mode": "REQUIRED"}],
            "partition_column": "day"}"#;
        let dir = folder(&[
            ("nba_raw.box.ndjson", b""),
            ("nba_raw.box.schema.json", text_partition),
        ]);
        let error = load(dir.path()).unwrap_err();
        assert!(
            error.to_string().contains(
                "not a usable table schema: partition column `day` must be REQUIRED DATE"
            ),
            "{error}"
        );
        let bigquery_style = br#"[{"name": "day", "type": "DATE", "mode": "REQUIRED"}]"#;
        let dir = folder(&[
            ("nba_raw.box.ndjson", b""),
            ("nba_raw.box.schema.json", bigquery_style),
        ]);
        let error = load(dir.path()).unwrap_err();
        assert!(
            error.to_string().contains(
                "a list of columns, as `slate schemas` writes a BigQuery schema, is not a \
                 table schema: put the list under \"columns\", beside \"partition_column\" \
                 and \"key_columns\""
            ),
            "{error}"
        );
        let dir = folder(&[
            ("nba_raw.box.ndjson", b""),
            ("nba_raw.box.schema.json", br#"{"columns": 3}"#),
        ]);
        let error = load(dir.path()).unwrap_err();
        assert!(
            error.to_string().contains("\"partition_column\": ..."),
            "{error}"
        );
    }

    /// A known table's schema is production's: a `.schema.json` for one
    /// made a test pass on columns production's table does not have.
    #[test]
    fn a_fixture_schema_for_a_known_table_is_refused() {
        let usable = br#"{"columns": [{"name": "day", "type": "DATE", "mode": "REQUIRED"},
            {"name": "venue", "type": "STRING", "mode": "NULLABLE"}],
            "partition_column": "day", "key_columns": []}"#;
        let dir = folder(&[
            ("nba_raw.box.ndjson", b""),
            ("nba_raw.box.schema.json", usable),
        ]);
        let error = load(dir.path()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("nba_raw.box is a known table, whose schema is production's"),
            "{error}"
        );
    }

    /// A key column the processor does not read may be left out of a
    /// fixture, as every column it does not read: two rows then read a
    /// null key, which was refused as a key held twice.
    #[test]
    fn a_key_column_left_out_of_a_fixture_is_no_key_held_twice() {
        let keyed = TableSchema {
            key_columns: vec!["game_id".into()],
            columns: vec![
                Column::new("day", ColumnType::Date, ColumnMode::Required),
                Column::new("game_id", ColumnType::String, ColumnMode::Required),
                Column::new("points", ColumnType::Int64, ColumnMode::Nullable),
            ],
            ..box_scores()
        };
        let table = TableName::new("nba_raw", "box");
        let load_keyed = |dir: &Path| {
            Fixtures::load(dir, std::slice::from_ref(&table), &|_| Some(keyed.clone()))
        };
        let dir = folder(&[(
            "nba_raw.box.csv",
            b"day,points
2026-01-05,3
2026-01-05,4
",
        )]);
        let fixtures = load_keyed(dir.path()).unwrap();
        assert_eq!(fixtures.tables[&table].rows.rows.len(), 2);
        let twice = b"day,game_id,points
2026-01-05,g1,3
2026-01-05,g1,4
";
        let dir = folder(&[("nba_raw.box.csv", twice)]);
        assert!(matches!(
            load_keyed(dir.path()),
            Err(FixtureError::KeyTwice { .. })
        ));
    }

    #[test]
    fn a_field_given_twice_in_one_ndjson_row_is_refused_not_overwritten() {
        let ndjson = "{\"day\": \"2026-01-05\", \"points\": 1}\n\
                      {\"day\": \"2026-01-05\", \"points\": 2, \"points\": 3}\n";
        let error = read_ndjson("t.ndjson", ndjson, &box_scores()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.ndjson:2: field `points` is given twice"
        );
    }

    #[test]
    fn a_column_batch_of_fixture_rows_packs_by_the_schema_even_when_every_cell_is_null() {
        use crate::bindings::ColumnValues;

        let FileRows { rows, absent, .. } =
            read_csv("t.csv", "day,points\n2026-01-05,\n", &box_scores()).unwrap();
        let table = TableName::new("nba_raw", "box_scores");
        let fixtures = Fixtures {
            tables: BTreeMap::from([(
                table.clone(),
                FixtureTable {
                    schema: box_scores(),
                    rows: RowSet {
                        columns: vec!["day".into(), "points".into()],
                        rows,
                    },
                    absent,
                },
            )]),
        };
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        for (start, count) in [(day, 1), (day.succ_opt().unwrap(), 0)] {
            let batch = fixtures
                .read_column_batch(TableSpan::new(&table, start, start), &["points".into()])
                .unwrap();
            assert_eq!(batch.row_count, count);
            assert!(
                matches!(batch.columns[0].values, ColumnValues::Int64(_)),
                "{start}: {batch:?}"
            );
        }
    }

    /// A folder holding `files` (name, bytes).
    fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        dir
    }

    fn load(dir: &Path) -> Result<Fixtures, FixtureError> {
        let table = TableName::new("nba_raw", "box");
        Fixtures::load(dir, std::slice::from_ref(&table), &|_| Some(box_scores()))
    }

    /// A schema for a table the processor does not read is a misspelt
    /// name or a leftover, refused as a data file of one is: before, it
    /// was passed over in silence.
    #[test]
    fn a_schema_of_a_table_the_processor_does_not_read_is_a_bad_fixture() {
        let dir = folder(&[
            ("nba_raw.box.ndjson", b""),
            ("nba_raw.bx.schema.json", b"{}"),
        ]);
        let error = load(dir.path()).unwrap_err();
        assert!(
            matches!(&error, FixtureError::UndeclaredTable { table, .. } if table == "nba_raw.bx"),
            "{error:?}"
        );
    }

    /// A JSON cell and a NUMERIC written as a JSON number reach the
    /// processor as written: before, they were parsed as doubles and
    /// written again, so a fixture fed the processor values production
    /// never would (digits rounded, keys sorted, a repeated key dropped,
    /// an integer beyond 64 bits taken where production refuses it).
    #[test]
    fn json_and_numeric_cells_of_a_fixture_are_kept_as_written() {
        let schema = TableSchema {
            columns: vec![
                Column::new("day", ColumnType::Date, ColumnMode::Required),
                Column::new("amount", ColumnType::Numeric, ColumnMode::Nullable),
                Column::new("doc", ColumnType::Json, ColumnMode::Nullable),
                Column::new("docs", ColumnType::Json, ColumnMode::Repeated),
            ],
            partition_column: "day".into(),
            key_columns: Vec::new(),
        };
        let ndjson = r#"{"day":"2026-01-05","amount":123456789.123456789,"doc":{"z":1,"a":2.50,"z":2},"docs":[1.50,{"b":1,"a":2}]}"#;
        let rows = read_ndjson("t.ndjson", ndjson, &schema).unwrap().rows;
        assert_eq!(
            rows[0][1..],
            [
                Value::Scalar(Scalar::Numeric("123456789.123456789".into())),
                Value::Scalar(Scalar::Json(r#"{"z":1,"a":2.50,"z":2}"#.into())),
                Value::Repeated(vec![
                    Scalar::Json("1.50".into()),
                    Scalar::Json(r#"{"b":1,"a":2}"#.into())
                ]),
            ]
        );
        let csv = "day,amount,doc,docs\n2026-01-05,1.5,\"{\"\"k\"\":1,\"\"k\"\":2}\",\n";
        let rows = read_csv("t.csv", csv, &schema).unwrap().rows;
        assert_eq!(
            rows[0][2],
            Value::Scalar(Scalar::Json(r#"{"k":1,"k":2}"#.into()))
        );

        let too_big = r#"{"day":"2026-01-05","doc":{"big":12345678901234567890123}}"#;
        let error = read_ndjson("t.ndjson", too_big, &schema).unwrap_err();
        assert_contains_text(&error.to_string(), "is an integer beyond 64 bits");
    }

    fn assert_contains_text(text: &str, part: &str) {
        assert!(text.contains(part), "{text}");
    }

    #[test]
    fn hidden_files_and_markdown_notes_are_passed_over_and_any_other_name_must_name_a_table() {
        let dir = folder(&[
            ("nba_raw.box.ndjson", b""),
            (".gitkeep", b""),
            ("README.md", b"# what these fixtures are"),
        ]);
        let fixtures = load(dir.path()).unwrap();
        assert_eq!(fixtures.tables.len(), 1);
        let nested = folder(&[
            ("nba_raw.box.ndjson", b""),
            ("more/nba_raw.box.ndjson", b""),
        ]);
        let error = load(nested.path()).unwrap_err();
        assert!(
            matches!(&error, FixtureError::Subfolder { folder } if folder.ends_with("more")),
            "{error:?}"
        );
        let typo = folder(&[("nba_raw.box.ndjson", b""), ("nba_raw.box.ndjosn", b"")]);
        let error = load(typo.path()).unwrap_err();
        assert!(
            matches!(&error, FixtureError::BadName { file } if file.ends_with("nba_raw.box.ndjosn")),
            "{error:?}"
        );
    }

    #[test]
    fn an_empty_file_is_an_empty_table_with_every_column() {
        for name in ["nba_raw.box.ndjson", "nba_raw.box.csv"] {
            let dir = folder(&[(name, b"")]);
            let fixtures = load(dir.path()).unwrap();
            let table = &fixtures.tables[&TableName::new("nba_raw", "box")];
            assert!(table.rows.rows.is_empty(), "{name}");
            assert!(
                table.absent.is_empty(),
                "{name}: every column is there, empty"
            );
        }
    }

    #[test]
    fn two_rows_of_a_date_with_one_key_are_a_bad_fixture() {
        let mut keyed = box_scores();
        keyed.columns.push(Column::new(
            "player",
            ColumnType::String,
            ColumnMode::Required,
        ));
        keyed.key_columns = vec!["player".into()];
        let text = "day,points,player\n2026-01-05,1,a\n2026-01-06,2,a\n2026-01-05,3,a\n";
        let read = read_csv("t.csv", text, &keyed).unwrap();
        let error = refuse_a_key_twice("t.csv", &keyed, &read.rows, &read.lines).unwrap_err();
        // Named by line, as every other fixture error: before, by row
        // (1 and 3, one short of the lines, the header not counted).
        assert_eq!(
            error.to_string(),
            "t.csv:4: the row on line 4 of 2026-01-05 has the key of line 2, player=\"a\""
        );
    }

    #[test]
    fn two_files_for_one_table_or_a_column_twice_in_a_header_are_refused() {
        let dir = folder(&[
            ("nba_raw.box.csv", b"day,points\n"),
            ("nba_raw.box.ndjson", b""),
        ]);
        let error = load(dir.path()).unwrap_err();
        assert!(
            matches!(error, FixtureError::TwoFiles { ref table, .. } if table == "nba_raw.box")
        );
        assert!(
            error
                .to_string()
                .ends_with("both give nba_raw.box: keep one"),
            "{error}"
        );

        let error = read_csv(
            "t.csv",
            "day,points,points\n2026-01-05,1,2\n",
            &box_scores(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.csv:1: field `points`: given twice in the header"
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_named_by_line_and_a_byte_order_mark_is_skipped() {
        let dir = folder(&[(
            "nba_raw.box.ndjson",
            b"{\"day\": \"2026-01-05\"}\n{\"day\": \"2026-01-0\xff\"}\n",
        )]);
        let error = load(dir.path()).unwrap_err();
        let file = dir.path().join("nba_raw.box.ndjson").display().to_string();
        assert_eq!(error.to_string(), format!("{file}:2: not UTF-8 text"));

        let dir = folder(&[(
            "nba_raw.box.ndjson",
            "\u{feff}{\"day\": \"2026-01-05\"}\n".as_bytes(),
        )]);
        let fixtures = load(dir.path()).unwrap();
        assert_eq!(
            fixtures.tables[&TableName::new("nba_raw", "box")]
                .rows
                .rows
                .len(),
            1
        );

        // A golden file is read the same way.
        let golden = dir.path().join("golden.ndjson");
        std::fs::write(&golden, b"{}\n\xff\n").unwrap();
        let error = read_text(&golden).unwrap_err().to_string();
        assert!(
            error.ends_with("golden.ndjson:2: not UTF-8 text"),
            "{error}"
        );

        let missing = load(&dir.path().join("nowhere")).unwrap_err().to_string();
        assert!(!missing.contains(":0:"), "{missing}");
    }
}
