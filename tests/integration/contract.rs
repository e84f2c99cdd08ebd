//! The contract evolves by semver: a host serving `slate:processor@0.1.1`
//! runs a component built against `0.1.0` unchanged, because Wasmtime
//! links a component's `@0.1.0` imports and exports to the host's
//! `@0.1.1`, and 0.1.1 only adds.

use slate::limits::RunLimits;
use slate::liveness::LeaseConfig;
use slate::rows::{RowSet, Scalar, Value};
use slate::runs::RunStatus;
use slate::schema::TableName;
use slate::store::Store;

use crate::support::{TestHost, components, date};

/// The interfaces a component file imports and exports, by name.
fn interfaces(path: &str) -> (Vec<String>, Vec<String>) {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::from_file(&engine, path).unwrap();
    let ty = component.component_type();
    let imports = ty.imports(&engine).map(|(name, _)| name.to_string());
    let exports = ty.exports(&engine).map(|(name, _)| name.to_string());
    (imports.collect(), exports.collect())
}

/// The package line of the host's own WIT.
fn host_package() -> String {
    let world = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/world.wit"));
    world.unwrap().lines().next().unwrap().to_string()
}

#[test]
fn the_fixture_is_built_against_0_1_0_and_the_host_serves_a_later_0_1_x() {
    let (imports, exports) = interfaces(components::CONTRACT_V0_1_0);

    assert!(
        imports.contains(&"slate:processor/host@0.1.0".to_string()),
        "{imports:?}"
    );
    assert!(
        exports.contains(&"slate:processor/processor@0.1.0".to_string()),
        "{exports:?}"
    );
    assert_eq!(host_package(), "package slate:processor@0.1.1;");
}

/// The day [`give_it_input`] writes.
const DAY: &str = "2026-01-15";

/// Creates the 0.1.0 fixture's input table in `store` with three rows on
/// [`DAY`], one of them null, and returns them. The input has the
/// fixture's output columns: `day` and a nullable `name`.
pub(crate) fn give_it_input(store: &dyn Store, component: &[u8]) -> RowSet {
    let runtime = slate::plugin::Runtime::new(None).unwrap();
    let spec = runtime.load(component).unwrap().spec;
    let input = TableName::new("slate_test", "every_type");
    let day = date(DAY);
    store.ensure_table(&input, &spec.schema).unwrap();
    let text = |s: &str| Value::Scalar(Scalar::String(s.into()));
    let wit_day = Value::Scalar(Scalar::Date(slate::rows::wit_date(day)));
    let rows = RowSet {
        columns: vec!["day".into(), "name".into()],
        rows: vec![
            vec![wit_day.clone(), text("lebron-james")],
            vec![wit_day.clone(), Value::Null],
            vec![wit_day, text("stephen-curry")],
        ],
    };
    store.replace_partitions(&input, &[day], &rows).unwrap();
    rows
}

#[test]
fn a_component_built_against_0_1_0_loads_reads_and_writes_on_this_host() {
    let host = TestHost::with(RunLimits::default(), LeaseConfig::default());
    let bytes = std::fs::read(components::CONTRACT_V0_1_0).unwrap();
    let rows = give_it_input(&*host.store, &bytes);
    let old = host.fixture(components::CONTRACT_V0_1_0);

    let record = host.run(&old, date(DAY));

    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(record.rows_read, 3);
    assert_eq!(host.rows(&old.spec.output_table, date(DAY)).rows, rows.rows);
}
