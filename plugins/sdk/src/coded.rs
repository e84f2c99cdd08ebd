//! Reading a [`CodedColumnBatch`]: plain columns as in a [`ColumnBatch`],
//! and STRING columns as codes into a dictionary of texts.
//!
//! A processor that groups a season's rows by player reads the player
//! column coded and keeps its groups in a vector indexed by code
//! ([`CodedColumn::dictionary_len`] long): no hashing, no text compared.
//! [`CodedColumn::text`] gives a code's text back, for the output. Every
//! error names the column and the row.

use crate::{CodedColumn, CodedColumnBatch, ColumnBatch, PackedText, ProcessError};

impl CodedColumnBatch {
    /// A batch of no rows with these plain and coded columns, for a read
    /// that had nothing to read.
    pub fn empty<S: AsRef<str>, C: AsRef<str>>(columns: &[S], coded: &[C]) -> CodedColumnBatch {
        CodedColumnBatch {
            batch: ColumnBatch::empty(columns),
            coded: coded
                .iter()
                .map(|name| CodedColumn {
                    name: name.as_ref().to_string(),
                    nulls: Vec::new(),
                    dictionary: PackedText {
                        text: String::new(),
                        ends: Vec::new(),
                    },
                    codes: Vec::new(),
                })
                .collect(),
        }
    }

    /// How many rows the batch holds.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether the batch holds no rows.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// The coded column called `name`, or a `missing-data` error naming it.
    pub fn coded(&self, name: &str) -> Result<&CodedColumn, ProcessError> {
        self.coded
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ProcessError::MissingData(format!("input has no coded column `{name}`")))
    }
}

impl CodedColumn {
    #[cold]
    #[inline(never)]
    fn invalid(&self, row: usize, problem: impl std::fmt::Display) -> ProcessError {
        ProcessError::InvalidInput(format!("`{}` in row {row} {problem}", self.name))
    }

    /// Whether row `row`'s cell is null (a row past the end is not).
    #[inline(always)]
    pub fn is_null(&self, row: usize) -> bool {
        self.nulls
            .get(row / 8)
            .is_some_and(|byte| byte >> (row % 8) & 1 == 1)
    }

    /// Row `row`'s code: an index into the dictionary, below
    /// [`CodedColumn::dictionary_len`]. Two rows have the same text exactly
    /// when they have the same code.
    #[inline(always)]
    pub fn code(&self, row: usize) -> Result<u32, ProcessError> {
        let Some(&code) = self.codes.get(row) else {
            return Err(self.invalid(row, "is past the end of the batch"));
        };
        if self.is_null(row) {
            return Err(self.invalid(row, "is null"));
        }
        if code as usize >= self.dictionary.ends.len() {
            return Err(self.invalid(row, format!("has code {code}, outside its dictionary")));
        }
        Ok(code)
    }

    /// The text of `code`, borrowed from the dictionary; `None` for a code
    /// outside it.
    #[inline(always)]
    pub fn text(&self, code: u32) -> Option<&str> {
        let code = code as usize;
        let end = *self.dictionary.ends.get(code)? as usize;
        let start = match code {
            0 => 0,
            _ => self.dictionary.ends[code - 1] as usize,
        };
        self.dictionary.text.get(start..end)
    }

    /// Row `row`'s text, borrowed from the dictionary.
    pub fn string(&self, row: usize) -> Result<&str, ProcessError> {
        let code = self.code(row)?;
        self.text(code)
            .ok_or_else(|| self.invalid(row, "has offsets outside its dictionary's text"))
    }

    /// How many texts the dictionary holds: every code is below it. The
    /// host gives only the texts the batch's rows have.
    pub fn dictionary_len(&self) -> usize {
        self.dictionary.ends.len()
    }

    /// How many rows the column holds.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the column holds no rows.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lebron`, null, `steph`, `lebron`, coded over a dictionary that
    /// also holds `tatum`, which no row has.
    fn players() -> CodedColumn {
        CodedColumn {
            name: "player".into(),
            nulls: vec![0b0010],
            dictionary: PackedText {
                text: "tatumlebronsteph".into(),
                ends: vec![5, 11, 16],
            },
            codes: vec![1, 0, 2, 1],
        }
    }

    #[test]
    fn rows_with_one_text_share_one_code_and_the_code_gives_the_text_back() {
        let players = players();
        let codes: Vec<u32> = [0, 2, 3].map(|row| players.code(row).unwrap()).to_vec();
        assert_eq!(codes, [1, 2, 1]);
        assert_eq!(players.string(3).unwrap(), "lebron");
        assert_eq!(players.text(0), Some("tatum"));
        assert_eq!(players.text(3), None);
        assert_eq!(players.dictionary_len(), 3);
    }

    #[test]
    fn a_null_row_a_row_past_the_end_and_a_code_outside_the_dictionary_are_named() {
        let mut players = players();
        let message = |read: Result<u32, ProcessError>| match read {
            Err(ProcessError::InvalidInput(message)) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(message(players.code(1)), "`player` in row 1 is null");
        assert_eq!(
            message(players.code(4)),
            "`player` in row 4 is past the end of the batch"
        );
        players.codes[0] = 7;
        assert_eq!(
            message(players.code(0)),
            "`player` in row 0 has code 7, outside its dictionary"
        );
    }

    #[test]
    fn an_empty_batch_has_its_columns_and_no_rows() {
        let batch = CodedColumnBatch::empty(&["points"], &["player"]);
        assert!(batch.is_empty());
        assert!(batch.batch.column("points").is_ok());
        assert_eq!(batch.coded("player").unwrap().dictionary_len(), 0);
        assert!(matches!(
            batch.coded("team"),
            Err(ProcessError::MissingData(m)) if m == "input has no coded column `team`"
        ));
    }
}
