//! `read-column-batch`: a real component reads a table of every column type
//! packed column by column, through the real host, and gets back exactly the
//! rows the store holds, within the run's read limit.

use slate::column_batch::{ColumnValues, pack};
use slate::limits::RunLimits;
use slate::liveness::LeaseConfig;
use slate::rows::{Date, RowSet, Scalar, Value};
use slate::runs::{ErrorKind, RunStatus};
use slate::schema::TableName;
use slate::store::Tables;
use slate::store::{InputSource, TableSpan};

use crate::support::{TestHost, assert_contains, components, date};

fn every_type() -> TableName {
    TableName::new("slate_test", "every_type")
}

fn text(s: &str) -> Value {
    Value::Scalar(Scalar::String(s.into()))
}

/// Three rows for `day`: one with a value of every type, one with nulls
/// wherever a column allows them, one with other values. `never_set` is
/// null in all of them, so it cannot pack by type.
fn rows_on(day: chrono::NaiveDate) -> RowSet {
    let wit_day = slate::rows::wit_date(day);
    let scalar = Value::Scalar;
    RowSet {
        columns: [
            "day",
            "name",
            "n",
            "x",
            "amount",
            "flag",
            "at",
            "doc",
            "born",
            "tags",
            "never_set",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![
            vec![
                scalar(Scalar::Date(wit_day)),
                text("lebron-james"),
                scalar(Scalar::Int64(-7)),
                scalar(Scalar::Float64(36.5)),
                scalar(Scalar::Numeric("12.500000000".into())),
                scalar(Scalar::Boolean(true)),
                scalar(Scalar::Timestamp(1_767_225_600_000_000)),
                scalar(Scalar::Json("{\"k\":[1,2]}".into())),
                scalar(Scalar::Date(Date {
                    year: 1969,
                    month: 12,
                    day: 30,
                })),
                Value::Repeated(vec![Scalar::String("a".into()), Scalar::String("b".into())]),
                Value::Null,
            ],
            // Every nullable column null; the repeated one empty.
            [
                vec![scalar(Scalar::Date(wit_day))],
                vec![Value::Null; 8],
                vec![Value::Repeated(Vec::new()), Value::Null],
            ]
            .concat(),
            vec![
                scalar(Scalar::Date(wit_day)),
                text("stephen-curry, ünïcode"),
                scalar(Scalar::Int64(i64::MAX)),
                scalar(Scalar::Float64(-0.25)),
                scalar(Scalar::Numeric("-3.000000001".into())),
                scalar(Scalar::Boolean(false)),
                scalar(Scalar::Timestamp(-1)),
                scalar(Scalar::Json("false".into())),
                scalar(Scalar::Date(Date {
                    year: 2026,
                    month: 4,
                    day: 12,
                })),
                Value::Repeated(vec![Scalar::String(String::new())]),
                Value::Null,
            ],
        ],
    }
}

/// A host whose `slate_test.every_type` holds [`rows_on`] for `days`, and
/// the echo fixture.
fn host_with_rows(limits: RunLimits, days: &[&str]) -> (TestHost, slate::plugin::Plugin) {
    let host = TestHost::with(limits, LeaseConfig::default());
    let echo = host.fixture(components::COLUMN_BATCH_ECHO);
    host.store
        .ensure_table(&every_type(), &echo.spec.schema)
        .expect("the input table");
    for day in days {
        let day = date(day);
        host.store
            .replace_partitions(&every_type(), &[day], &rows_on(day))
            .expect("the input rows");
    }
    (host, echo)
}

#[test]
fn a_batch_read_carries_every_type_every_null_and_every_unpacked_column_unchanged() {
    let (host, echo) = host_with_rows(RunLimits::default(), &["2026-01-15", "2026-01-16"]);
    let day = date("2026-01-15");

    let record = host.run(&echo, day);

    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(record.rows_read, 3, "only the date's rows are read");
    let stored = host.store.read_rows(&every_type(), day, day).unwrap();
    assert_eq!(stored.rows, rows_on(day).rows, "the store kept the input");
    assert_eq!(host.rows(&echo.spec.output_table, day).rows, stored.rows);
}

#[test]
fn the_embedded_store_packs_by_schema_what_packing_its_rows_would_give() {
    let (host, echo) = host_with_rows(RunLimits::default(), &["2026-01-15"]);
    let day = date("2026-01-15");
    let names = column_names(&echo);

    let direct = host
        .store
        .read_column_batch(TableSpan::new(&every_type(), day, day), &names)
        .unwrap();
    let generic = pack(
        host.store
            .read_columns(&every_type(), day, day, &names)
            .unwrap(),
    );

    assert_eq!(direct.row_count, 3);
    for (direct, generic) in direct.columns.iter().zip(&generic.columns) {
        if direct.name == "never_set" {
            // The schema says STRING, so the store packs it as text even
            // though every row is null; values alone cannot tell the type.
            assert_eq!(direct.nulls, [0b111]);
            assert!(matches!(direct.values, ColumnValues::String(_)));
            assert!(matches!(generic.values, ColumnValues::Values(_)));
        } else {
            assert_eq!(direct, generic, "column {}", direct.name);
        }
    }
}

/// A read the store could not serve because it could not be reached
/// fails the run with kind `unreachable`, not `input`: the date's data is
/// not at fault, and a backfill runs the date again.
#[test]
fn a_read_the_store_could_not_reach_fails_the_run_as_unreachable_not_input() {
    use slate::plugin::sandbox::RunIdentity;
    use slate::store::InputError;

    struct OutOfReach;
    impl InputSource for OutOfReach {
        fn select(&self, span: TableSpan<'_>, _: Option<&[String]>) -> Result<RowSet, InputError> {
            Err(InputError::Unreachable(format!(
                "the store's database is unreachable: {} not read",
                span.table
            )))
        }
    }
    let (_host, echo) = host_with_rows(RunLimits::default(), &[]);
    let day = date("2026-01-15");
    let identity = RunIdentity {
        processor: echo.spec.name.clone(),
        date: day,
        run_id: "run-out-of-reach".into(),
    };

    let (evaluated, _) = slate::evaluation::evaluate(
        &echo,
        identity,
        std::sync::Arc::new(OutOfReach),
        Default::default(),
        RunLimits::default(),
        Default::default(),
        &[],
    );

    let failure = evaluated.expect_err("the run fails");
    assert_eq!(failure.kind, ErrorKind::Unreachable);
    assert_eq!(
        failure.message,
        "reading an input failed: the store's database is unreachable: \
         slate_test.every_type not read"
    );
}

/// A NUMERIC or JSON cell the schema refuses, written past the host, fails
/// the read with kind `input`, naming the column, the value and the rule,
/// as a bad date or a NaN does. Before, both were read as plain text: the
/// processor got them, and the run failed `validation` on its own output
/// (blaming the processor) or succeeded on the bad value.
#[test]
fn a_numeric_or_json_cell_its_schema_refuses_fails_the_read_as_input() {
    let cases = [
        (
            "amount",
            "'abc'",
            "`amount` holds text \"abc\": `abc` is not a decimal number",
        ),
        (
            "amount",
            "'1.1234567891'",
            "`amount` holds text \"1.1234567891\": `1.1234567891` has 10 digits after the point",
        ),
        (
            "doc",
            "'not json'",
            "`doc` holds text \"not json\": not valid JSON",
        ),
        (
            "doc",
            "'12345678901234567890123'",
            "JSON number 12345678901234567890123 is an integer beyond 64 bits",
        ),
    ];
    for (column, bad, named) in cases {
        let (host, echo) = host_with_rows(RunLimits::default(), &["2026-01-15"]);
        let database = rusqlite::Connection::open(host.dir.path().join("slate.db")).unwrap();
        database
            .execute(
                &format!("UPDATE \"slate_test.every_type\" SET {column} = {bad} WHERE n = -7"),
                [],
            )
            .unwrap();

        let record = host.run(&echo, date("2026-01-15"));

        assert_eq!(
            (record.status, record.error_kind),
            (RunStatus::Failed, Some(ErrorKind::Input)),
            "{column} = {bad}: {record:?}"
        );
        let message = record.error_message.unwrap_or_default();
        assert_contains(
            &message,
            "reading an input failed: slate_test.every_type 2026-01-15 row",
        );
        assert_contains(&message, named);
    }
}

#[test]
fn a_malformed_stored_cell_fails_the_read_naming_table_date_row_column_and_value() {
    let (host, echo) = host_with_rows(RunLimits::default(), &["2026-01-15"]);
    let database = rusqlite::Connection::open(host.dir.path().join("slate.db")).unwrap();
    database
        .execute(
            "UPDATE \"slate_test.every_type\" SET born = 'not-a-date' WHERE n = -7",
            [],
        )
        .unwrap();

    let record = host.run(&echo, date("2026-01-15"));

    assert_eq!(record.status, RunStatus::Failed);
    assert_eq!(record.error_kind, Some(ErrorKind::Input));
    let message = record.error_message.unwrap_or_default();
    assert_contains(
        &message,
        r#"reading an input failed: slate_test.every_type 2026-01-15 row 0 (rowid "#,
    );
    assert_contains(&message, r#"): `born` holds text "not-a-date", not DATE"#);
}

/// A run of ColumnBatchEchoProcessor on `day` (a January date reads
/// through `read-column-batch`, a March one through
/// `read-coded-column-batch`), its 3 rows read against a limit of 2:
/// failed as `limit_read` with both values, and nothing written.
fn assert_reading_past_the_limit_fails_the_run(day: &str) {
    let limits = RunLimits {
        max_rows_read: 2,
        ..RunLimits::default()
    };
    let (host, echo) = host_with_rows(limits, &[day]);

    let record = host.run(&echo, date(day));

    assert_eq!(record.status, RunStatus::Failed);
    assert_eq!(record.error_kind, Some(ErrorKind::LimitRead));
    assert_eq!(
        record.error_message.as_deref(),
        Some(
            "read limit of 2 rows exceeded: reading 3 rows of slate_test.every_type would make 3 \
             rows read"
        )
    );
    assert_eq!(
        (record.limit_value, record.observed_value),
        (Some(2), Some(3))
    );
    assert!(
        host.rows(&echo.spec.output_table, date(day))
            .rows
            .is_empty()
    );
}

#[test]
fn batch_reads_count_against_the_runs_read_limit() {
    assert_reading_past_the_limit_fails_the_run("2026-01-15");
}

#[test]
fn coded_reads_count_against_the_runs_read_limit() {
    assert_reading_past_the_limit_fails_the_run("2026-03-02");
}

#[test]
fn a_batch_read_of_a_missing_column_is_refused_naming_it() {
    let (host, echo) = host_with_rows(RunLimits::default(), &["2026-02-28"]);

    let record = host.run(&echo, date("2026-02-28"));

    assert_eq!(record.status, RunStatus::Failed);
    let message = record.error_message.unwrap_or_default();
    assert_contains(
        &message,
        "table slate_test.every_type has no column `no_such_column`",
    );
}

#[test]
fn a_coded_read_gives_every_string_back_through_its_code_and_keeps_every_null() {
    let days = ["2026-03-02", "2026-03-03"];
    let (host, echo) = host_with_rows(RunLimits::default(), &days);

    for day in days.map(date) {
        let record = host.run(&echo, day);

        assert_eq!(record.status, RunStatus::Success, "{record:?}");
        assert_eq!(record.rows_read, 3);
        assert_eq!(
            host.rows(&echo.spec.output_table, day).rows,
            rows_on(day).rows,
            "the echo through codes wrote back what it read, on {day}"
        );
    }
}

#[test]
fn a_coded_read_gives_each_of_its_texts_once_in_the_order_its_rows_have_them() {
    let (host, _echo) = host_with_rows(RunLimits::default(), &["2026-03-02", "2026-03-03"]);
    let table = every_type();
    let read = |start: &str, end: &str| {
        let span = TableSpan::new(&table, date(start), date(end));
        host.store
            .read_coded_column_batch(span, &["n".to_string()], &["name".to_string()])
            .unwrap()
    };

    let one_day = read("2026-03-03", "2026-03-03");
    let two_days = read("2026-03-02", "2026-03-03");

    let codes = |read: &slate::text_codes::CodedColumnBatch| read.coded[0].codes.clone();
    assert_eq!(two_days.batch.row_count, 6);
    assert_eq!(
        codes(&two_days)[3..],
        codes(&one_day)[..],
        "the 3rd's rows have the 2nd's texts, in the same order, so the same codes"
    );
    assert_eq!(codes(&two_days)[0], codes(&two_days)[3], "lebron-james");
    assert_eq!(
        two_days.coded[0].nulls,
        [0b0001_0010],
        "rows 1 and 4 are null"
    );
    assert_eq!(
        two_days.coded[0].dictionary.text, "lebron-jamesstephen-curry, ünïcode",
        "each text once, in the order the rows first have them"
    );
    assert_eq!(two_days.batch.columns[0].name, "n", "only `n` comes plain");
    let both_ways = host
        .store
        .read_coded_column_batch(
            TableSpan::new(&table, date("2026-03-03"), date("2026-03-03")),
            &["name".to_string()],
            &["name".to_string()],
        )
        .unwrap();
    assert_eq!(both_ways.batch.columns[0].name, "name");
    assert_eq!(
        both_ways.coded[0].codes,
        codes(&one_day),
        "a name may be in both"
    );
}

#[test]
fn a_coded_read_of_a_column_that_is_not_string_is_refused_naming_it() {
    let (host, echo) = host_with_rows(RunLimits::default(), &["2026-03-31"]);

    let record = host.run(&echo, date("2026-03-31"));

    assert_eq!(record.status, RunStatus::Failed);
    assert_eq!(record.error_kind, Some(ErrorKind::Plugin));
    assert_contains(
        &record.error_message.unwrap_or_default(),
        "table slate_test.every_type: column `n` holds INT64, not STRING: only STRING columns \
         can be read coded",
    );
}

/// Each coded mention had the host build the column's codes and
/// dictionary again, outside every limit of the run: 150 mentions of one
/// column took the host to 860 MB under a run limit of 64 MiB.
#[test]
fn a_coded_read_naming_a_column_twice_is_refused_naming_it() {
    let (host, echo) = host_with_rows(RunLimits::default(), &["2026-03-30"]);

    let record = host.run(&echo, date("2026-03-30"));

    assert_eq!(record.status, RunStatus::Failed);
    assert_eq!(record.error_kind, Some(ErrorKind::Plugin));
    assert_contains(
        &record.error_message.unwrap_or_default(),
        "slate_test.every_type: column `name` asked for coded twice",
    );
}

/// Every column of the echo fixture's table, in order.
fn column_names(echo: &slate::plugin::Plugin) -> Vec<String> {
    echo.spec
        .schema
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect()
}

/// Checks that a batch read of every column over `start..=end` holds what
/// the rows of the same read hold: what a read that skips the cache sees.
fn assert_batch_read_is_current(
    store: &dyn InputSource,
    echo: &slate::plugin::Plugin,
    (start, end): (chrono::NaiveDate, chrono::NaiveDate),
) -> u32 {
    let names = column_names(echo);
    let batch = store
        .read_column_batch(TableSpan::new(&every_type(), start, end), &names)
        .unwrap();
    let rows = pack(
        store
            .read_columns(&every_type(), start, end, &names)
            .unwrap(),
    );
    assert_eq!(batch.row_count, rows.row_count);
    for (cached, fresh) in batch.columns.iter().zip(&rows.columns) {
        if cached.name != "never_set" {
            assert_eq!(cached, fresh, "column {}", cached.name);
        }
    }
    batch.row_count
}

#[test]
fn a_batch_read_after_this_store_rewrites_a_date_sees_the_new_rows() {
    let (host, echo) = host_with_rows(RunLimits::default(), &["2026-01-15", "2026-01-16"]);
    let (first, second) = (date("2026-01-15"), date("2026-01-16"));
    assert_eq!(
        assert_batch_read_is_current(host.store.as_ref(), &echo, (first, second)),
        6
    );

    let mut fewer = rows_on(second);
    fewer.rows.truncate(1);
    host.store
        .replace_partitions(&every_type(), &[second], &fewer)
        .unwrap();

    assert_eq!(
        assert_batch_read_is_current(host.store.as_ref(), &echo, (first, second)),
        4
    );
    assert_eq!(
        assert_batch_read_is_current(host.store.as_ref(), &echo, (second, second)),
        1
    );
}

#[test]
fn a_batch_read_after_another_process_rewrites_a_date_sees_the_new_rows() {
    let (host, echo) = host_with_rows(RunLimits::default(), &["2026-01-15", "2026-01-16"]);
    let (first, second) = (date("2026-01-15"), date("2026-01-16"));
    assert_eq!(
        assert_batch_read_is_current(host.store.as_ref(), &echo, (first, second)),
        6
    );

    let other = slate::store::EmbeddedStore::open(&host.dir.path().join("slate.db")).unwrap();
    other
        .replace_partitions(
            &every_type(),
            &[first],
            &RowSet {
                columns: rows_on(first).columns,
                rows: Vec::new(),
            },
        )
        .unwrap();

    assert_eq!(
        assert_batch_read_is_current(host.store.as_ref(), &echo, (first, second)),
        3
    );
}
