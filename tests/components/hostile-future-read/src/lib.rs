//! Hostile test fixture `HostileFutureRead`: reads its one declared input,
//! the control table, from its analysis date to the day after, through
//! every read function the host offers. A read that got through would be
//! written out as rows; when every one is refused as an invalid range, the
//! run fails naming each function and the host's first answer.

use slate_sdk::{ProcessError, ReadError};

fixture_common::processor! {
    HostileFutureRead,
    info: hostile_common::info("HostileFutureRead", "hostile_future_read"),
    process: |date| {
        let control = slate_sdk::table(hostile_common::CONTROL);
        let tomorrow = date.add_days(1);
        let reads: [(&str, Result<usize, ReadError>); 4] = [
            ("read-rows", slate_sdk::read_rows(&control, date, tomorrow).map(|r| r.rows.len())),
            (
                "read-columns",
                slate_sdk::read_columns(&control, date, tomorrow, &["day"]).map(|r| r.rows.len()),
            ),
            (
                "read-column-batch",
                slate_sdk::read_column_batch(&control, date, tomorrow, &["day"]).map(|b| b.len()),
            ),
            (
                "read-coded-column-batch",
                slate_sdk::read_coded_column_batch(&control, date, tomorrow, &["day"], &[] as &[&str])
                    .map(|b| b.len()),
            ),
        ];
        let mut refused = Vec::new();
        let mut first_answer = String::new();
        for (function, read) in reads {
            match read {
                Ok(rows) => return Ok(hostile_common::rows(date, rows as i64 + 1)),
                Err(ReadError::InvalidRange(answer)) => {
                    refused.push(function);
                    if first_answer.is_empty() {
                        first_answer = answer;
                    }
                }
                Err(other) => {
                    return Err(ProcessError::Internal(format!("{function}: {other:?}")));
                }
            }
        }
        Err(ProcessError::Internal(format!(
            "refused: ReadError::InvalidRange by {}: {first_answer}",
            refused.join(", ")
        )))
    },
}
