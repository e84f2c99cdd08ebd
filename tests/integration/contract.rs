//! The contract evolves by semver: a host serving `slate:processor@0.1.2`
//! runs components built against `0.1.0` and `0.1.1` unchanged, because
//! Wasmtime links a component's older `0.1.x` imports and exports to the
//! host's, and each `0.1.x` only adds: 0.1.1 a host function, 0.1.2 the
//! optional `season` export.

use slate::limits::RunLimits;
use slate::liveness::LeaseConfig;
use slate::plugin::spec::Lookback;
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
fn the_fixtures_are_built_against_earlier_0_1_x_and_the_host_serves_0_1_2() {
    for (fixture, version) in [
        (components::CONTRACT_V0_1_0, "0.1.0"),
        (components::CONTRACT_V0_1_1, "0.1.1"),
    ] {
        let (imports, exports) = interfaces(fixture);
        let host = format!("slate:processor/host@{version}");
        assert!(imports.contains(&host), "{imports:?}");
        assert_eq!(exports, [format!("slate:processor/processor@{version}")]);
    }
    assert_eq!(host_package(), "package slate:processor@0.1.2;");
}

#[test]
fn a_bundled_reader_of_the_season_exports_season_and_one_that_is_not_answers_none() {
    let bundled = |package: &str| {
        let plugin = slate::bundled::PLUGINS
            .iter()
            .find(|p| p.package == package);
        let engine = wasmtime::Engine::default();
        let component = wasmtime::component::Component::new(&engine, plugin.unwrap().bytes);
        let ty = component.unwrap().component_type();
        ty.exports(&engine)
            .map(|(name, _)| name.to_string())
            .collect::<Vec<_>>()
    };
    let season = "slate:processor/season@0.1.2".to_string();
    assert!(bundled("player-daily-cache").contains(&season));
    // Every SDK processor exports it; one that reads no season answers none.
    assert!(bundled("player-game-summary").contains(&season));
    let host = TestHost::with(RunLimits::default(), LeaseConfig::default());
    let summaries = host.bundled("player-game-summary");
    assert_eq!(summaries.spec.season, None);
    let factors = host.bundled("player-composite-factors");
    let season = factors.spec.season.as_ref().expect("it reads the season");
    assert_eq!(
        season.upstreams,
        [
            "PlayerGameSummaryProcessor",
            "TeamOffenseGameSummaryProcessor"
        ],
        "the zones it reads on its own date alone"
    );
    assert_eq!(
        factors.spec.lookback_of("PlayerShotZoneAnalysisProcessor"),
        Lookback::None
    );
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

/// Runs `fixture` on the input [`give_it_input`] writes, and checks that
/// it read the three rows and wrote them back as they were.
fn runs_unchanged(fixture: &str) {
    let host = TestHost::with(RunLimits::default(), LeaseConfig::default());
    let bytes = std::fs::read(fixture).unwrap();
    let rows = give_it_input(&*host.store, &bytes);
    let old = host.fixture(fixture);
    assert_eq!(old.spec.season, None, "no `season` export");

    let record = host.run(&old, date(DAY));

    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(record.rows_read, 3);
    assert_eq!(host.rows(&old.spec.output_table, date(DAY)).rows, rows.rows);
}

#[test]
fn a_component_built_against_0_1_0_loads_reads_and_writes_on_this_host() {
    runs_unchanged(components::CONTRACT_V0_1_0);
}

#[test]
fn a_component_built_against_0_1_1_reads_coded_and_writes_on_this_host() {
    runs_unchanged(components::CONTRACT_V0_1_1);
}
