//! Shared set-up and checks: a host on a fresh store, the demo season, the
//! fixtures and the folders that hold them, the `slate` command, the
//! fixtures' control tables, and the assertions about runs and their
//! messages that several test files make. Test-specific set-up stays in
//! its test file.

use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;
use slate::bundled::PLUGINS;
use slate::demo::season::{Season, SeasonConfig};
use slate::demo::{load_season, schedule_schema, schedule_table};
use slate::executor::Executor;
use slate::health::HealthReport;
use slate::liveness::LeaseConfig;
use slate::pipeline::Pipeline;
use slate::plugin::{Plugin, RunLimits, Runtime, RuntimeOptions};
use slate::rows::{RowSet, Scalar, Value, wit_date};
use slate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus, Trigger};
use slate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};
use slate::store::{EmbeddedStore, RunLedger, Store, Tables};
use slate::store::{InputError, InputSource};

/// Paths of the fixture components built from `tests/components/` (by
/// `tests/fixtures`); `every_fixture_is_used_by_a_test` checks that each
/// is exercised.
pub use slate_test_fixtures::components;

/// `component` with a custom section named by `tag` appended: the same
/// behaviour under a new content hash, as a rebuilt version has.
pub fn rebuilt(component: &[u8], tag: &str) -> Vec<u8> {
    let mut bytes = component.to_vec();
    let name = format!("slate-test-{tag}");
    let size = 1 + name.len();
    assert!(size < 128, "one-byte LEB128 lengths");
    bytes.extend([0u8, size as u8, name.len() as u8]);
    bytes.extend(name.as_bytes());
    bytes
}

/// A date, from `YYYY-MM-DD`.
pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a test date")
}

/// The demo season, generated once per test binary.
pub fn season() -> &'static Season {
    static SEASON: OnceLock<Season> = OnceLock::new();
    SEASON.get_or_init(|| Season::generate(SeasonConfig::default()))
}

/// A host with its own store file in a temporary folder.
pub struct TestHost {
    /// The store.
    pub store: Arc<EmbeddedStore>,
    /// The runtime plugins are loaded with.
    pub runtime: Runtime,
    /// An executor on the store.
    pub executor: Executor,
    /// The data folder; deleted on drop.
    pub dir: tempfile::TempDir,
}

impl TestHost {
    /// A host on an empty store with an empty schedule table.
    pub fn empty() -> TestHost {
        TestHost::with(RunLimits::default(), LeaseConfig::default())
    }

    /// A host whose runs may each use `cpu_time` of CPU, with the
    /// default leases: for stopping a spinning processor.
    pub fn with_cpu_limit(cpu_time: std::time::Duration) -> TestHost {
        let limits = RunLimits {
            cpu_time,
            ..RunLimits::default()
        };
        TestHost::with(limits, LeaseConfig::default())
    }

    /// A host with these run limits and lease settings.
    pub fn with(limits: RunLimits, leases: LeaseConfig) -> TestHost {
        TestHost::with_runtime(limits, leases, RuntimeOptions::default())
    }

    /// A host with these run limits and lease settings, on a runtime with
    /// these engine options (e.g. pooled, as the `slate` commands that run
    /// processors use).
    pub fn with_runtime(
        limits: RunLimits,
        leases: LeaseConfig,
        options: RuntimeOptions,
    ) -> TestHost {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Arc::new(EmbeddedStore::open(&dir.path().join("slate.db")).expect("a store"));
        store
            .ensure_table(&schedule_table(), &schedule_schema())
            .expect("a schedule table");
        let runtime =
            Runtime::with_options(Some(&shared_compiled_cache()), options).expect("a runtime");
        let executor = Executor::new(store.clone() as Arc<dyn Store>, "test-host", limits, leases)
            .expect("an executor");
        TestHost {
            store,
            runtime,
            executor,
            dir,
        }
    }

    /// A host whose raw tables hold the demo season.
    pub fn with_demo_season() -> TestHost {
        let host = TestHost::empty();
        load_season(host.store.as_ref(), season()).expect("load the demo season");
        host
    }

    /// Loads a bundled plugin by crate name, e.g. `player-game-summary`.
    pub fn bundled(&self, package: &str) -> Plugin {
        let bundled = PLUGINS
            .iter()
            .find(|p| p.package == package)
            .expect("a bundled plugin");
        self.runtime
            .load(bundled.bytes)
            .expect("the bundled plugin loads")
    }

    /// The pipeline of every bundled plugin.
    pub fn whole_pipeline(&self) -> Pipeline {
        Pipeline::new(PLUGINS.iter().map(|p| self.bundled(p.package)).collect())
            .expect("the bundled plugins make a pipeline")
    }

    /// A pipeline of the bundled plugins `packages`, by crate name.
    pub fn bundled_pipeline(&self, packages: &[&str]) -> Pipeline {
        Pipeline::new(packages.iter().map(|p| self.bundled(p)).collect())
            .expect("the bundled plugins form a pipeline")
    }

    /// A pipeline of every bundled plugin.
    pub fn every_bundled_processor(&self) -> Pipeline {
        let packages: Vec<&str> = PLUGINS.iter().map(|p| p.package).collect();
        self.bundled_pipeline(&packages)
    }

    /// Loads a fixture component from its path.
    pub fn fixture(&self, path: &str) -> Plugin {
        let bytes = std::fs::read(path).expect("the fixture was built");
        self.runtime.load(&bytes).expect("the fixture loads")
    }

    /// Executes one run of `plugin` for `day`, as the CLI would.
    pub fn run(&self, plugin: &Plugin, day: NaiveDate) -> RunRecord {
        self.executor
            .execute(plugin, day, Trigger::Cli)
            .expect("the run can be claimed")
    }

    /// Creates `table` with `schema` for `processor` before its first run,
    /// as an operator would: loaded by the host, then moved to it.
    pub fn table_for(&self, processor: &str, table: &TableName, schema: &TableSchema) {
        self.store.ensure_table(table, schema).expect("a table");
        self.store
            .transfer_table(
                table,
                &slate::ownership::TableOwner::Processor(processor.into()),
                "test set-up",
            )
            .expect("moved to the processor");
    }

    /// Every row of `table` on `day`; none when the table does not exist
    /// (no run ever committed to it).
    pub fn rows(&self, table: &TableName, day: NaiveDate) -> RowSet {
        match self.store.read_rows(table, day, day) {
            Err(InputError::UnknownTable(_)) => RowSet {
                columns: Vec::new(),
                rows: Vec::new(),
            },
            read => read.expect("the table can be read"),
        }
    }
}

/// A compiled-component cache shared by every test in this build, so that
/// the bundled processors are compiled once, not once per test.
pub fn shared_compiled_cache() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled")
}

/// Makes `data_dir`'s compiled-component cache the shared one, so that a
/// `slate` process started on it does not compile the bundled processors
/// again.
pub fn use_shared_compiled_cache(data_dir: &std::path::Path) {
    std::fs::create_dir_all(shared_compiled_cache()).expect("the shared cache folder");
    std::os::unix::fs::symlink(shared_compiled_cache(), data_dir.join("compiled"))
        .expect("a link to the shared cache");
}

/// Polls `condition` every 20 ms until it holds; fails, naming `what`,
/// after a minute.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A folder holding copies of the fixture `components`, under their own
/// file names, as `--plugin-dir` takes.
pub fn plugin_dir(components: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for component in components {
        let name = std::path::Path::new(component)
            .file_name()
            .expect("a component file");
        std::fs::copy(component, dir.path().join(name)).expect("the fixture was built");
    }
    dir
}

/// The bytes of the fixture `component` with its output table `old`
/// renamed `new` in its data (of the same length, so the component stays
/// valid): a version of the same processor writing another table.
pub fn with_table_renamed(component: &str, old: &str, new: &str) -> Vec<u8> {
    assert_eq!(old.len(), new.len(), "a rename keeps the length");
    let mut bytes = std::fs::read(component).expect("the fixture was built");
    let at = bytes
        .windows(old.len())
        .position(|w| w == old.as_bytes())
        .expect("the component names its table");
    bytes[at..at + new.len()].copy_from_slice(new.as_bytes());
    bytes
}

/// A table of players' points by game date: `game_date` (the partition),
/// `player_lookup` (the key), and `points` of mode `points`.
pub fn player_points_schema(points: ColumnMode) -> TableSchema {
    TableSchema {
        columns: vec![
            Column::new("game_date", ColumnType::Date, ColumnMode::Required),
            Column::new("player_lookup", ColumnType::String, ColumnMode::Required),
            Column::new("points", ColumnType::Int64, points),
        ],
        partition_column: "game_date".into(),
        key_columns: vec!["player_lookup".into()],
    }
}

/// Rows of a [`player_points_schema`] table on `day`, one per player and
/// points.
pub fn player_points_rows(
    day: NaiveDate,
    players: impl IntoIterator<Item = (String, i64)>,
) -> RowSet {
    RowSet {
        columns: vec!["game_date".into(), "player_lookup".into(), "points".into()],
        rows: players
            .into_iter()
            .map(|(player, points)| {
                vec![
                    Value::Scalar(Scalar::Date(wit_date(day))),
                    Value::Scalar(Scalar::String(player)),
                    Value::Scalar(Scalar::Int64(points)),
                ]
            })
            .collect(),
    }
}

/// The `slate` binary on the data folder `data_dir`, loading the components
/// in `plugin_dir`, logging errors only: for the caller to add arguments.
pub fn slate_with_plugins(
    data_dir: &std::path::Path,
    plugin_dir: &std::path::Path,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_slate"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--plugin-dir")
        .arg(plugin_dir)
        .env("RUST_LOG", "error");
    command
}

/// Runs the `slate` binary on the data folder `data_dir` with `args`,
/// logging errors only.
pub fn slate(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run slate")
}

/// Starts `slate run --date <date> --processors <processors>` in the
/// background, its output discarded, with the command `slate` builds from
/// those arguments: for tests that kill a host in the middle of a run.
pub fn start_run_in_background(
    slate: impl Fn(&[&str]) -> std::process::Command,
    date: &str,
    processors: &str,
) -> std::process::Child {
    slate(&["run", "--date", date, "--processors", processors])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start slate run")
}

/// Makes `command`'s process start under a limit of `soft` and `hard` on
/// `resource` (`ulimit`), set in the child alone, before it runs.
pub fn limited(
    command: &mut std::process::Command,
    resource: rustix::process::Resource,
    (soft, hard): (u64, u64),
) {
    use std::os::unix::process::CommandExt;
    let limit = rustix::process::Rlimit {
        current: Some(soft),
        maximum: Some(hard),
    };
    // SAFETY: setrlimit is one system call, safe between fork and exec.
    unsafe {
        command.pre_exec(move || Ok(rustix::process::setrlimit(resource, limit)?));
    }
}

/// Makes the embedded store of `data_dir` refuse every `event` on its run
/// history (`"INSERT"`: a claim; `"UPDATE OF status"`: a run's end) whose
/// row meets `when` (SQL over `NEW`), failing it with `message`, as a full
/// disk or a lock held elsewhere would.
pub fn refuse_in_run_history(data_dir: &std::path::Path, event: &str, when: &str, message: &str) {
    rusqlite::Connection::open(data_dir.join("slate.db"))
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER refused BEFORE {event} ON _slate_runs WHEN {when}
             BEGIN SELECT RAISE(ABORT, '{message}'); END;"
        ))
        .unwrap();
}

/// A fresh data folder into which `slate demo` has loaded the demo season
/// and run every processor from `from` to `to`.
pub fn demo_data_dir(from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    use_shared_compiled_cache(dir.path());
    let demo = slate(dir.path(), &["demo", "--from", from, "--to", to]);
    assert!(demo.status.success(), "{}", stderr(&demo));
    dir
}

/// A data folder no one may write to while this lives: every folder in it
/// `r-x`, every file `r--`. Root writes whatever the modes say, so as root
/// [`ReadOnlyFolder::slate`] runs as `nobody`, whom the modes bind.
pub struct ReadOnlyFolder {
    path: std::path::PathBuf,
}

impl ReadOnlyFolder {
    /// Takes write access to `path` and everything in it away from all.
    pub fn of(path: &std::path::Path) -> Self {
        set_modes(path, 0o555, 0o444);
        ReadOnlyFolder {
            path: path.to_path_buf(),
        }
    }

    /// `slate --data-dir <the folder> <args>`, as a user who may only read
    /// it.
    pub fn slate(&self, args: &[&str]) -> std::process::Output {
        use std::os::unix::fs::MetadataExt;
        let as_root = std::fs::metadata(&self.path).is_ok_and(|m| m.uid() == 0);
        let mut command = if as_root {
            let mut setpriv = std::process::Command::new("setpriv");
            setpriv.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_slate"),
            ]);
            setpriv
        } else {
            std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        };
        command
            .arg("--data-dir")
            .arg(&self.path)
            .args(args)
            .env("RUST_LOG", "error")
            .output()
            .expect("run slate (as root, through util-linux's setpriv)")
    }
}

impl Drop for ReadOnlyFolder {
    fn drop(&mut self) {
        set_modes(&self.path, 0o755, 0o644);
    }
}

/// Sets every folder under `path` (itself included) to `folders`, and
/// every file to `files`; links are left as they are.
fn set_modes(path: &std::path::Path, folders: u32, files: u32) {
    use std::os::unix::fs::PermissionsExt;
    let kind = std::fs::symlink_metadata(path).expect("a folder entry");
    if kind.is_symlink() {
        return;
    }
    let mode = if kind.is_dir() { folders } else { files };
    if kind.is_dir() {
        // Writable while its entries change, so that a folder is never left
        // half done.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        for entry in std::fs::read_dir(path).unwrap() {
            set_modes(&entry.unwrap().path(), folders, files);
        }
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What a finished command wrote to stderr, as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A command's standard output, as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The control table the hostile fixtures read their settings from.
pub fn hostile_control() -> TableName {
    TableName::new("slate_test", "hostile_control")
}

/// Creates a fixture's control table `table` (a `day` column, then
/// `columns`) and sets its rows on `day` to `rows`, each given without its
/// `day`: how a test tells a fixture what to do on a date.
pub fn set_control(
    store: &dyn Tables,
    table: &TableName,
    day: NaiveDate,
    columns: &[(&str, ColumnType)],
    rows: &[&[Scalar]],
) {
    let mut schema = TableSchema {
        columns: vec![Column::new("day", ColumnType::Date, ColumnMode::Required)],
        partition_column: "day".into(),
        key_columns: vec![],
    };
    for (name, column_type) in columns {
        schema
            .columns
            .push(Column::new(name, *column_type, ColumnMode::Required));
    }
    store.ensure_table(table, &schema).expect("a control table");
    let rows = RowSet {
        columns: schema.columns.into_iter().map(|c| c.name).collect(),
        rows: rows
            .iter()
            .map(|settings| {
                let day = Scalar::Date(wit_date(day));
                std::iter::once(day)
                    .chain(settings.iter().cloned())
                    .map(Value::Scalar)
                    .collect()
            })
            .collect(),
    };
    store
        .replace_partitions(table, &[day], &rows)
        .expect("the control rows are written");
}

/// The entry for `name` in a `GET /plugins` answer.
pub fn listed_plugin<'a>(plugins: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    plugins
        .as_array()
        .and_then(|listed| listed.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{name} is not listed in {plugins}"))
}

/// Asserts that a command exited 0, showing its stderr when it did not.
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(output.status.success(), "{}", stderr(output));
}

/// Asserts that `text` contains `expected`, showing `text` when it does not.
#[track_caller]
pub fn assert_contains(text: &str, expected: &str) {
    assert!(text.contains(expected), "{text}");
}

/// The error message of `record`, a run that must have failed with `kind`.
pub fn failure_message(record: &RunRecord, kind: ErrorKind) -> String {
    assert_eq!(record.error_kind, Some(kind), "{record:?}");
    record
        .error_message
        .clone()
        .expect("a failed run has a message")
}

/// Asserts that `record` failed validation, with a message that opens with
/// its `summary` (how many rows failed, with how many errors) and names
/// the bad `row`.
pub fn assert_failed_validation(record: &RunRecord, summary: &str, row: &str) {
    let message = failure_message(record, ErrorKind::Validation);
    assert!(message.starts_with(summary), "{message}");
    assert_contains(&message, row);
}

/// Asserts that `reaped` was reaped as stale: failed, of kind `stale`,
/// for the reason that `host` stopped renewing its lease at its last
/// heartbeat, `last_heartbeat`.
pub fn assert_reaped_as_stale(
    reaped: &RunRecord,
    host: &str,
    last_heartbeat: chrono::DateTime<chrono::Utc>,
) {
    assert_eq!(
        (reaped.status, reaped.error_kind),
        (RunStatus::Failed, Some(ErrorKind::Stale))
    );
    assert_eq!(
        reaped.reason.as_deref(),
        Some(
            format!(
                "host {host} stopped renewing at {}",
                last_heartbeat.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            )
            .as_str()
        )
    );
    // The run lasted until its host's last heartbeat, however long after
    // it the reap came (to the millisecond, as each store rounds).
    let lasted = (last_heartbeat - reaped.started_at).num_milliseconds();
    let duration = reaped.duration_ms.expect("a reaped run has a duration");
    assert!(
        (duration - lasted).abs() <= 1,
        "duration {duration} ms, but the last heartbeat came {lasted} ms after the start"
    );
}

/// The runs `store` still records as running.
pub fn runs_still_running(store: &dyn RunLedger) -> Vec<RunRecord> {
    store
        .runs(&RunFilter {
            status: Some(RunStatus::Running),
            ..RunFilter::default()
        })
        .expect("the runs can be listed")
}

/// Runs the project's `scripts/NAME` with `command` (`start`, `stop`, ...).
pub fn run_script(name: &str, command: &str) -> std::io::Result<std::process::Output> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(name);
    std::process::Command::new("bash")
        .arg(script)
        .arg(command)
        .output()
}

/// Calls `callback` when the test binary exits: to stop a service this
/// test run started.
pub fn at_exit(callback: extern "C" fn()) {
    unsafe extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
    }
    // SAFETY: `callback` is a plain function with the signature atexit
    // wants, and runs once, when the test binary exits.
    unsafe {
        atexit(callback);
    }
}

/// The health report of `pipeline` as of `now`, with the default deadline
/// (36 hours) for dates no run reached.
pub fn health_report(
    store: &dyn Store,
    pipeline: &Pipeline,
    now: chrono::DateTime<chrono::Utc>,
) -> HealthReport {
    let deadline = slate::alerts::AlertsConfig::default().no_rows_deadline;
    slate::health::report(store, pipeline, now, deadline).expect("a health report")
}

/// Runs a backfill's `plan` on `host` to its end, with up to `parallelism`
/// runs at once: how each planned run ended.
pub fn run_plan(
    host: &TestHost,
    pipeline: &Pipeline,
    plan: &slate::backfill::Plan,
    parallelism: usize,
) -> Vec<slate::backfill::Outcome> {
    let never = std::sync::atomic::AtomicBool::new(false);
    slate::backfill::run(pipeline, &host.executor, plan, parallelism, &never, &|_| {})
}
