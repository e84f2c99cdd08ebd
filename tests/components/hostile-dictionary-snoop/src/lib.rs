//! Hostile test fixture `DictionarySnoop`: reads its own date of the
//! control table with the STRING column `secret` coded, and writes one row
//! per text of the dictionary it is given, whatever rows have them. The
//! host keeps one dictionary per table and column across reads; handed on
//! whole, it would carry the texts of other dates, later ones among them.

use slate_sdk::{FieldMode, FieldType, ProcessorInfo, RowSetBuilder, Value, field, table};

fixture_common::processor! {
    DictionarySnoop,
    info: ProcessorInfo {
        schema: fixture_common::numbered_schema([field(
            "text",
            FieldType::String,
            FieldMode::Required,
            "A text of the dictionary the read gave.",
        )]),
        ..hostile_common::info("DictionarySnoop", "hostile_dictionary_snoop")
    },
    process: |date| {
        let read = slate_sdk::read_coded_column_batch(
            &table(hostile_common::CONTROL),
            date,
            date,
            &["day"],
            &["secret"],
        )?;
        let secrets = read.coded("secret")?;
        let mut rows = RowSetBuilder::new(&["day", "n", "text"]);
        for code in 0..secrets.dictionary_len() as u32 {
            let text = secrets.text(code).unwrap_or_default();
            rows.push(vec![
                Value::date(date),
                Value::int64(i64::from(code)),
                Value::string(text),
            ]);
        }
        Ok(rows.finish())
    },
}
