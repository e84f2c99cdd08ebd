//! Processors in other languages, built with `slate build` from
//! `plugins/examples/` and run through `slate test` like any component:
//! the Python PlayerDailyCache passes the Rust processor's golden test byte
//! for byte, a failing Python processor fails with kind `plugin` and the
//! exception's type and text, `slate new`'s templates pass their own
//! golden tests, and the Python SDK's own unit tests pass.
//!
//! Each component is built once per test run and reused. Without the
//! toolchain (see `scripts/guest-toolchains.sh`) a test says plainly that
//! it skipped and how to install it; under CI (env `CI` set) it fails.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use crate::support::assert_contains;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A guest language's build tool: the variable that names it, its name on
/// the `PATH`, and where `scripts/guest-toolchains.sh install` puts it.
struct Toolchain {
    variable: &'static str,
    tool: &'static str,
    installed: &'static str,
}

const PYTHON: Toolchain = Toolchain {
    variable: "SLATE_COMPONENTIZE_PY",
    tool: "componentize-py",
    installed: ".guest-toolchains/python/bin/componentize-py",
};

impl Toolchain {
    /// The tool's path, or `None` after saying that the test skipped;
    /// under CI a missing tool fails the test instead.
    fn find(&self, test: &str) -> Option<PathBuf> {
        let found = std::env::var_os(self.variable)
            .map(PathBuf::from)
            .or_else(|| Some(workspace().join(self.installed)))
            .filter(|path| path.is_file())
            .or_else(|| {
                std::env::var_os("PATH")
                    .iter()
                    .flat_map(std::env::split_paths)
                    .map(|dir| dir.join(self.tool))
                    .find(|path| path.is_file())
            });
        if found.is_none() {
            let how = format!(
                "{} not found (${}, {}, PATH); install it with \
                 `eval \"$(scripts/guest-toolchains.sh install)\"`",
                self.tool, self.variable, self.installed
            );
            assert!(std::env::var_os("CI").is_none(), "{test}: {how}");
            // Past the test harness's capture, so a passing run shows it too.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {how}");
        }
        found
    }
}

/// The data folder shared by this module's tests, so that each component
/// compiles once.
fn shared_data() -> &'static Path {
    static DATA: OnceLock<tempfile::TempDir> = OnceLock::new();
    DATA.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Runs the `slate` binary with `args` in the shared data folder.
fn slate(args: &[&str]) -> Output {
    slate_in(shared_data(), args)
}

fn slate_in(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds the example `name` under `plugins/examples/` with `slate build`
/// and `tool`, once per test run (examples build in parallel); the
/// component's path.
fn built(name: &'static str, tool: &Path) -> PathBuf {
    type Builds = HashMap<&'static str, Arc<OnceLock<PathBuf>>>;
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static BUILDS: Mutex<Option<Builds>> = Mutex::new(None);
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let once = BUILDS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(name)
        .or_default()
        .clone();
    once.get_or_init(|| {
        let output = dir.path().join(format!("{name}.wasm"));
        let source = workspace().join("plugins/examples").join(name);
        let build = Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("build")
            .arg(&source)
            .arg("--output")
            .arg(&output)
            .env(PYTHON.variable, tool)
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "slate build {name}: {}",
            text(&build.stderr)
        );
        output
    })
    .clone()
}

fn daily_cache_golden() -> (PathBuf, PathBuf) {
    let golden = workspace().join("plugins/player-daily-cache/golden");
    (
        golden.join("inputs"),
        golden.join("2026-01-11.expected.ndjson"),
    )
}

#[test]
fn python_player_daily_cache_passes_the_rust_processors_golden_test_byte_for_byte() {
    let test = "python_player_daily_cache_passes_the_rust_processors_golden_test_byte_for_byte";
    let Some(tool) = PYTHON.find(test) else {
        return;
    };
    let component = built("player-daily-cache-py", &tool);
    let component = component.to_str().unwrap();
    let (inputs, expected) = daily_cache_golden();
    let inputs = inputs.to_str().unwrap();

    let passed = slate(&[
        "test",
        component,
        "--date",
        "2026-01-11",
        "--fixtures",
        inputs,
        "--expect",
        expected.to_str().unwrap(),
        "--tolerance",
        "0",
    ]);
    assert_eq!(passed.status.code(), Some(0), "{}", text(&passed.stdout));
    assert_contains(
        &text(&passed.stdout),
        "PASS PlayerDailyCacheProcessor 2026-01-11: 2 rows match the golden file",
    );

    // Written out, its rows are the Rust processor's golden file, byte for byte.
    let scratch = tempfile::tempdir().unwrap();
    let rewritten = scratch.path().join("2026-01-11.expected.ndjson");
    std::fs::write(&rewritten, "").unwrap();
    let updated = slate(&[
        "test",
        component,
        "--date",
        "2026-01-11",
        "--fixtures",
        inputs,
        "--expect",
        rewritten.to_str().unwrap(),
        "--update",
    ]);
    assert_eq!(updated.status.code(), Some(0), "{}", text(&updated.stdout));
    assert_eq!(
        std::fs::read_to_string(&rewritten).unwrap(),
        std::fs::read_to_string(&expected).unwrap()
    );
}

#[test]
fn an_uncaught_python_read_error_fails_the_run_as_a_plugin_error_with_the_exceptions_type_and_text()
{
    let test = "an_uncaught_python_read_error_fails_the_run_as_a_plugin_error_with_the_exceptions_type_and_text";
    let Some(tool) = PYTHON.find(test) else {
        return;
    };
    let component = built("failing-py", &tool);
    let fixtures = workspace().join("plugins/examples/failing-py/fixtures");

    let failed = slate(&[
        "test",
        component.to_str().unwrap(),
        "--date",
        "2026-01-11",
        "--fixtures",
        fixtures.to_str().unwrap(),
    ]);

    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stdout));
    assert_contains(
        &text(&failed.stdout),
        "FAIL FailingPythonProcessor 2026-01-11 [plugin]: internal error: ReadFailed: \
         undeclared-table: FailingPythonProcessor did not declare nba_raw.box_scores",
    );
}

#[test]
fn a_python_processor_under_its_start_up_memory_fails_at_instantiation_with_limit_memory() {
    let test =
        "a_python_processor_under_its_start_up_memory_fails_at_instantiation_with_limit_memory";
    let Some(tool) = PYTHON.find(test) else {
        return;
    };
    let component = built("player-daily-cache-py", &tool);
    let (inputs, _) = daily_cache_golden();
    // CPython asks for about 12 MiB before `process` runs.
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("slate.toml"), "[limits]\nmemory_mib = 8\n").unwrap();
    // Its own limits, the shared compile cache.
    let compiled = shared_data().join("compiled");
    std::fs::create_dir_all(&compiled).unwrap();
    std::os::unix::fs::symlink(&compiled, data.path().join("compiled")).unwrap();

    let failed = slate_in(
        data.path(),
        &[
            "test",
            component.to_str().unwrap(),
            "--date",
            "2026-01-11",
            "--fixtures",
            inputs.to_str().unwrap(),
        ],
    );

    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stdout));
    assert_contains(
        &text(&failed.stdout),
        "[limit_memory]: instantiation failed: memory limit of 8388608 bytes exceeded: \
         the processor asked for",
    );
}

#[test]
fn slate_new_makes_a_python_processor_that_builds_and_passes_its_own_golden_test() {
    let test = "slate_new_makes_a_python_processor_that_builds_and_passes_its_own_golden_test";
    let Some(tool) = PYTHON.find(test) else {
        return;
    };
    let parent = tempfile::tempdir().unwrap();
    let made = slate(&[
        "new",
        "games-per-team",
        "--lang",
        "python",
        "--parent",
        parent.path().to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let dir = parent.path().join("games-per-team");
    let component = dir.join("games-per-team.wasm");
    let build = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("build")
        .arg(&dir)
        .arg("-o")
        .arg(&component)
        .env(PYTHON.variable, &tool)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build.stderr));

    let fixtures = dir.join("fixtures");
    let passed = slate(&[
        "test",
        component.to_str().unwrap(),
        "--date",
        "2026-01-11",
        "--fixtures",
        fixtures.to_str().unwrap(),
        "--expect",
        fixtures
            .join("2026-01-11.expected.ndjson")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(passed.status.code(), Some(0), "{}", text(&passed.stdout));
    assert_contains(
        &text(&passed.stdout),
        "PASS GamesPerTeamProcessor 2026-01-11: 2 rows match the golden file",
    );
}

#[test]
fn slate_new_makes_a_rust_crate_with_fixtures_and_refuses_a_bad_name_or_an_existing_folder() {
    let parent = tempfile::tempdir().unwrap();
    let parent_arg = parent.path().to_str().unwrap();
    let made = slate(&["new", "rest-days", "--lang", "rust", "--parent", parent_arg]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let dir = parent.path().join("rest-days");
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "schema.json",
        "README.md",
        "fixtures/nba_raw.schedule.ndjson",
        "fixtures/2026-01-11.expected.ndjson",
    ] {
        assert!(dir.join(file).is_file(), "{file} was not made");
    }
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert_contains(&lib, "Declaration::new(\"RestDaysProcessor\"");
    assert_contains(&lib, "output_table: \"nba_analytics.rest_days\"");

    let again = slate(&["new", "rest-days", "--lang", "rust", "--parent", parent_arg]);
    assert_eq!(again.status.code(), Some(2));
    assert_contains(&text(&again.stderr), "exists already");
    let bad = slate(&["new", "Rest_Days", "--lang", "rust", "--parent", parent_arg]);
    assert_eq!(bad.status.code(), Some(2));
    assert_contains(&text(&bad.stderr), "processor name `Rest_Days` must be");
    let cobol = slate(&["new", "rest", "--lang", "cobol", "--parent", parent_arg]);
    assert_eq!(cobol.status.code(), Some(2));
    assert_contains(&text(&cobol.stderr), "unknown language `cobol`");
}

#[test]
fn the_python_sdks_own_tests_pass_against_generated_bindings() {
    let test = "the_python_sdks_own_tests_pass_against_generated_bindings";
    let Some(tool) = PYTHON.find(test) else {
        return;
    };
    let bindings = tempfile::tempdir().unwrap();
    let generated = Command::new(&tool)
        .arg("--wit-path")
        .arg(workspace().join("wit"))
        .args(["--world", "processor-plugin", "bindings"])
        .arg(bindings.path())
        .output()
        .unwrap();
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let sdk = workspace().join("plugins/sdk-python");
    let python_path = std::env::join_paths([bindings.path(), sdk.as_path()]).unwrap();

    let tests = Command::new("python3")
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(sdk.join("tests"))
        .env("PYTHONPATH", python_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();

    let report = text(&tests.stderr);
    assert!(tests.status.success(), "{report}");
    assert_contains(&report, "OK");
    assert!(!report.contains("skipped"), "{report}");
}
