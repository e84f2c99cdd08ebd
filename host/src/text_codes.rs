//! Dictionary-coded STRING columns, for `read-coded-column-batch`.
//!
//! A processor that groups a season's rows by player hashes and compares
//! each row's name: about 25,000 hashes per run, in the sandbox. Coded,
//! each row carries a `u32` index into a dictionary of the column's texts,
//! and the processor groups by index into a vector.
//!
//! Somebody still has to hash each text once to give it its code. A
//! [`Dictionary`] does it, and is kept: the read cache holds one per
//! table and column, and codes each partition once, when it is first
//! read, so a read of the season to date joins codes it made earlier
//! ([`CodedBuilder`]) instead of hashing text again. Sources without a
//! cache code every read ([`code_batch`]): correct, and no faster than
//! reading text.

use std::collections::HashMap;

use crate::column_batch::{Column, ColumnBatch, ColumnValues, PackedText, Packing};
use crate::rows::{Scalar, Value};

pub use crate::bindings::{CodedColumn, CodedColumnBatch};

/// A column that cannot be coded: it holds something other than STRING
/// values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column `{column}` holds {found}, not STRING: only STRING columns can be read coded")]
pub struct NotText {
    /// The column.
    pub column: String,
    /// What it holds instead, e.g. `INT64`.
    pub found: &'static str,
}

impl NotText {
    /// The refusal of `column`, which packs as `packing` (`None`: one
    /// value per row, as a REPEATED column does).
    pub fn new(column: &str, packing: Option<Packing>) -> Self {
        NotText {
            column: column.to_string(),
            found: packing.map_or("REPEATED values", Packing::type_name),
        }
    }
}

/// The texts given codes so far, each once, in the order first seen: a
/// text's code is its position, and stays its code for as long as the
/// dictionary lives.
#[derive(Debug, Clone)]
pub struct Dictionary {
    texts: PackedText,
    codes: HashMap<Box<str>, u32>,
}

impl Default for Dictionary {
    fn default() -> Self {
        Dictionary {
            texts: PackedText {
                text: String::new(),
                ends: Vec::new(),
            },
            codes: HashMap::new(),
        }
    }
}

impl Dictionary {
    /// The code of `text`, given it now if it has none.
    pub fn code(&mut self, text: &str) -> u32 {
        if let Some(code) = self.codes.get(text) {
            return *code;
        }
        let code = self.texts.ends.len() as u32;
        self.texts.text.push_str(text);
        self.texts.ends.push(self.texts.text.len() as u32);
        self.codes.insert(text.into(), code);
        code
    }

    /// How many texts have a code.
    pub fn len(&self) -> usize {
        self.texts.ends.len()
    }

    /// Whether no text has a code yet.
    pub fn is_empty(&self) -> bool {
        self.texts.ends.is_empty()
    }

    /// Every text, in code order: what a coded column carries.
    pub fn texts(&self) -> &PackedText {
        &self.texts
    }

    /// About how much memory the dictionary holds.
    pub fn bytes(&self) -> usize {
        // The text twice (packed, and as the map's keys), an end and a
        // map slot per text.
        2 * self.texts.text.len() + 28 * self.texts.ends.len()
    }
}

/// The codes of `column`'s rows, one per row (0 for a null row, which the
/// column's own `nulls` marks), giving new texts codes in `dictionary`.
pub fn codes_of(column: &Column, dictionary: &mut Dictionary) -> Result<Vec<u32>, NotText> {
    match &column.values {
        ColumnValues::String(text) => {
            let mut start = 0;
            Ok(text
                .ends
                .iter()
                .enumerate()
                .map(|(row, &end)| {
                    let cell = &text.text[start as usize..end as usize];
                    start = end;
                    if null_at(&column.nulls, row) {
                        0
                    } else {
                        dictionary.code(cell)
                    }
                })
                .collect())
        }
        ColumnValues::Values(values) => values
            .iter()
            .map(|value| match value {
                Value::Null => Ok(0),
                Value::Scalar(Scalar::String(text)) => Ok(dictionary.code(text)),
                Value::Scalar(other) => {
                    Err(NotText::new(&column.name, Some(Packing::of_scalar(other))))
                }
                Value::Repeated(_) => Err(NotText::new(&column.name, None)),
            })
            .collect(),
        other => Err(NotText::new(&column.name, Packing::of_values(other))),
    }
}

/// Whether row `row` of a column packed with `nulls` is null.
fn null_at(nulls: &[u8], row: usize) -> bool {
    nulls
        .get(row / 8)
        .is_some_and(|byte| byte >> (row % 8) & 1 == 1)
}

/// Joins the codes of one column's partitions, in order, into one coded
/// column: the codes and null bitmaps appended, the dictionary given last.
pub struct CodedBuilder {
    name: String,
    nulls: Vec<u8>,
    any_null: bool,
    codes: Vec<u32>,
}

impl CodedBuilder {
    /// An empty column called `name`, with room for `rows` codes.
    pub fn new(name: impl Into<String>, rows: usize) -> Self {
        CodedBuilder {
            name: name.into(),
            nulls: Vec::with_capacity(rows.div_ceil(8)),
            any_null: false,
            codes: Vec::with_capacity(rows),
        }
    }

    /// Appends a partition's `codes`, whose null rows `nulls` marks.
    pub fn extend(&mut self, codes: &[u32], nulls: &[u8]) {
        let start = self.codes.len();
        self.codes.extend_from_slice(codes);
        self.nulls.resize(self.codes.len().div_ceil(8), 0);
        if nulls.is_empty() {
            return;
        }
        for row in (0..codes.len()).filter(|row| null_at(nulls, *row)) {
            let at = start + row;
            self.nulls[at / 8] |= 1 << (at % 8);
            self.any_null = true;
        }
    }

    /// The coded column, with `dictionary`'s texts, and a null bitmap only
    /// when a row is null.
    pub fn finish(self, dictionary: &Dictionary) -> CodedColumn {
        self.finish_with(dictionary.texts().clone())
    }

    /// The coded column, its codes given into `kept`, a dictionary kept
    /// across reads: with a dictionary of only the texts its rows have, in
    /// the order its rows first have them, and each code renumbered to
    /// match. A kept dictionary holds the texts of every date read coded
    /// before, later dates and dates outside this reader's window among
    /// them; neither those texts nor how many there are may reach it.
    pub fn finish_with_texts_of_its_rows(self, kept: &PackedText) -> CodedColumn {
        const NO_CODE_YET: u32 = u32::MAX;
        let mut renumbered = vec![NO_CODE_YET; kept.ends.len()];
        let mut texts = PackedText {
            text: String::new(),
            ends: Vec::new(),
        };
        let mut codes = self.codes;
        for (row, code) in codes.iter_mut().enumerate() {
            if self.any_null && null_at(&self.nulls, row) {
                *code = 0;
                continue;
            }
            let new = &mut renumbered[*code as usize];
            if *new == NO_CODE_YET {
                *new = texts.ends.len() as u32;
                texts.text.push_str(text_of(kept, *code));
                texts.ends.push(texts.text.len() as u32);
            }
            *code = *new;
        }
        CodedBuilder { codes, ..self }.finish_with(texts)
    }

    /// The coded column, with `texts`.
    fn finish_with(self, texts: PackedText) -> CodedColumn {
        CodedColumn {
            name: self.name,
            nulls: if self.any_null {
                self.nulls
            } else {
                Vec::new()
            },
            dictionary: texts,
            codes: self.codes,
        }
    }
}

/// The text of `code` in the dictionary `texts`.
fn text_of(texts: &PackedText, code: u32) -> &str {
    let code = code as usize;
    let start = match code {
        0 => 0,
        _ => texts.ends[code - 1] as usize,
    };
    &texts.text[start..texts.ends[code] as usize]
}

/// `batch`, whose last `coded` columns are to be coded, split into the
/// plain columns and those coded, each with a dictionary of its own: the
/// read of a source that keeps no dictionaries.
pub fn code_batch(mut batch: ColumnBatch, coded: usize) -> Result<CodedColumnBatch, NotText> {
    let split = batch.columns.len().saturating_sub(coded);
    let to_code = batch.columns.split_off(split);
    let coded = to_code
        .iter()
        .map(|column| {
            let mut dictionary = Dictionary::default();
            let codes = codes_of(column, &mut dictionary)?;
            let mut builder = CodedBuilder::new(column.name.clone(), codes.len());
            builder.extend(&codes, &column.nulls);
            Ok(builder.finish(&dictionary))
        })
        .collect::<Result<_, _>>()?;
    Ok(CodedColumnBatch { batch, coded })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column_batch::ColumnBuilder;

    /// A STRING column of `cells`, `None` for null.
    fn strings(cells: &[Option<&str>]) -> Column {
        let mut builder = ColumnBuilder::new("player", Some(Packing::String));
        for cell in cells {
            match cell {
                Some(text) => builder.push(crate::column_batch::Cell::Text(text)).unwrap(),
                None => builder.push_null(),
            }
        }
        builder.finish()
    }

    /// Each row's text, read back through the dictionary.
    fn decoded(column: &CodedColumn) -> Vec<Option<String>> {
        let PackedText { text, ends } = &column.dictionary;
        column
            .codes
            .iter()
            .enumerate()
            .map(|(row, &code)| {
                (!null_at(&column.nulls, row)).then(|| {
                    let start = match code {
                        0 => 0,
                        _ => ends[code as usize - 1] as usize,
                    };
                    text[start..ends[code as usize] as usize].to_string()
                })
            })
            .collect()
    }

    #[test]
    fn a_text_keeps_its_code_across_partitions_and_nulls_keep_their_rows() {
        let mut dictionary = Dictionary::default();
        let first = strings(&[Some("lebron"), None, Some("curry"), Some("lebron")]);
        let second = strings(&[Some("curry"), Some("tatum"), None]);

        let first_codes = codes_of(&first, &mut dictionary).unwrap();
        let second_codes = codes_of(&second, &mut dictionary).unwrap();
        let mut joined = CodedBuilder::new("player", 7);
        joined.extend(&first_codes, &first.nulls);
        joined.extend(&second_codes, &second.nulls);
        let column = joined.finish(&dictionary);

        assert_eq!(first_codes, [0, 0, 1, 0]);
        assert_eq!(second_codes, [1, 2, 0], "curry is still 1");
        assert_eq!(dictionary.len(), 3, "each text once");
        assert_eq!(
            decoded(&column),
            [
                Some("lebron"),
                None,
                Some("curry"),
                Some("lebron"),
                Some("curry"),
                Some("tatum"),
                None
            ]
            .map(|cell| cell.map(String::from))
        );
    }

    #[test]
    fn only_string_columns_can_be_coded_and_the_error_names_the_column() {
        let mut builder = ColumnBuilder::new("points", Some(Packing::Int64));
        builder
            .push(crate::column_batch::Cell::Integer(31))
            .unwrap();
        let refused = codes_of(&builder.finish(), &mut Dictionary::default()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "column `points` holds INT64, not STRING: only STRING columns can be read coded"
        );
    }

    #[test]
    fn a_batch_coded_per_read_keeps_its_plain_columns_in_place() {
        let mut points = ColumnBuilder::new("points", Some(Packing::Int64));
        for value in [31, 12] {
            points
                .push(crate::column_batch::Cell::Integer(value))
                .unwrap();
        }
        let batch = ColumnBatch {
            row_count: 2,
            columns: vec![points.finish(), strings(&[Some("tatum"), None])],
        };

        let coded = code_batch(batch, 1).unwrap();

        assert_eq!(coded.batch.columns.len(), 1);
        assert_eq!(coded.batch.columns[0].name, "points");
        assert_eq!(coded.coded[0].name, "player");
        assert_eq!(decoded(&coded.coded[0]), [Some("tatum".to_string()), None]);
    }
}
