//! Processors in other languages, built with `slate build` from
//! `plugins/examples/` and run through `slate test` like any component:
//! the Python and JavaScript PlayerDailyCaches pass the Rust processor's
//! golden test byte for byte, a failing processor in each language fails
//! with kind `plugin` and the exception's type and text, `slate new`'s
//! templates pass their own golden tests, and each SDK's own unit tests
//! pass.
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
/// the `PATH`, where `scripts/guest-toolchains.sh` puts it, and the
/// script's command that does.
struct Toolchain {
    variable: &'static str,
    tool: &'static str,
    installed: &'static str,
    install: &'static str,
}

const PYTHON: Toolchain = Toolchain {
    variable: "SLATE_COMPONENTIZE_PY",
    tool: "componentize-py",
    installed: ".guest-toolchains/python/bin/componentize-py",
    install: "install",
};

/// jco with componentize-js; `slate build` finds esbuild beside it.
const JAVASCRIPT: Toolchain = Toolchain {
    variable: "SLATE_JCO",
    tool: "jco",
    installed: ".guest-toolchains/node/node_modules/.bin/jco",
    install: "install-js",
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
                 `eval \"$(scripts/guest-toolchains.sh {})\"`",
                self.tool, self.variable, self.installed, self.install
            );
            assert!(std::env::var_os("CI").is_none(), "{test}: {how}");
            // Past the test harness's capture, so a passing run shows it too.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {how}");
        }
        found
    }

    /// The example `name` under `plugins/examples/`, built with this
    /// toolchain's tool, or `None` after saying that `test` skipped.
    fn example(&self, test: &str, name: &'static str) -> Option<PathBuf> {
        let tool = self.find(test)?;
        Some(built(name, self, &tool))
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
/// and `tool` of `toolchain`, once per test run (examples build in
/// parallel); the component's path.
fn built(name: &'static str, toolchain: &Toolchain, tool: &Path) -> PathBuf {
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
        slate_build(&source, &output, toolchain, tool);
        output
    })
    .clone()
}

/// `slate build SOURCE -o OUTPUT` with `tool` of `toolchain`, which must
/// succeed; it says on stderr how long the build took.
fn slate_build(source: &Path, output: &Path, toolchain: &Toolchain, tool: &Path) {
    let started = std::time::Instant::now();
    let build = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("build")
        .arg(source)
        .arg("--output")
        .arg(output)
        .env(toolchain.variable, tool)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "slate build {}: {}",
        source.display(),
        text(&build.stderr)
    );
    let _ = writeln!(
        std::io::stderr(),
        "built {} in {:.1} s",
        source.display(),
        started.elapsed().as_secs_f64()
    );
}

fn daily_cache_golden() -> (PathBuf, PathBuf) {
    let golden = workspace().join("plugins/player-daily-cache/golden");
    (
        golden.join("inputs"),
        golden.join("2026-01-11.expected.ndjson"),
    )
}

/// `component`, a PlayerDailyCacheProcessor in another language, passes the
/// Rust processor's golden test with no tolerance, and its rows written out
/// are the Rust processor's golden file, byte for byte.
fn passes_the_daily_cache_golden_test_byte_for_byte(component: &Path) {
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

/// The failing example `name` fails its `slate test` with exit code 3 and
/// the line `expected` (kind `plugin`, the exception's type and text).
fn fails_as_a_plugin_error(component: &Path, name: &str, expected: &str) {
    let fixtures = workspace()
        .join("plugins/examples")
        .join(name)
        .join("fixtures");

    let failed = slate(&[
        "test",
        component.to_str().unwrap(),
        "--date",
        "2026-01-11",
        "--fixtures",
        fixtures.to_str().unwrap(),
    ]);

    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stdout));
    assert_contains(&text(&failed.stdout), expected);
}

#[test]
fn python_player_daily_cache_passes_the_rust_processors_golden_test_byte_for_byte() {
    let Some(component) = PYTHON.example(
        "python_player_daily_cache_passes_the_rust_processors_golden_test_byte_for_byte",
        "player-daily-cache-py",
    ) else {
        return;
    };
    passes_the_daily_cache_golden_test_byte_for_byte(&component);
}

#[test]
fn javascript_player_daily_cache_passes_the_rust_processors_golden_test_byte_for_byte() {
    let Some(component) = JAVASCRIPT.example(
        "javascript_player_daily_cache_passes_the_rust_processors_golden_test_byte_for_byte",
        "player-daily-cache-js",
    ) else {
        return;
    };
    passes_the_daily_cache_golden_test_byte_for_byte(&component);
}

#[test]
fn an_uncaught_python_read_error_fails_the_run_as_a_plugin_error_with_the_exceptions_type_and_text()
{
    let Some(component) = PYTHON.example(
        "an_uncaught_python_read_error_fails_the_run_as_a_plugin_error_with_the_exceptions_type_and_text",
        "failing-py",
    ) else {
        return;
    };
    fails_as_a_plugin_error(
        &component,
        "failing-py",
        "FAIL FailingPythonProcessor 2026-01-11 [plugin]: internal error: ReadFailed: \
         undeclared-table: FailingPythonProcessor did not declare nba_raw.box_scores",
    );
}

#[test]
fn an_uncaught_javascript_read_error_fails_the_run_as_a_plugin_error_with_the_exceptions_type_and_text()
 {
    let Some(component) = JAVASCRIPT.example(
        "an_uncaught_javascript_read_error_fails_the_run_as_a_plugin_error_with_the_exceptions_type_and_text",
        "failing-js",
    ) else {
        return;
    };
    fails_as_a_plugin_error(
        &component,
        "failing-js",
        "FAIL FailingJavaScriptProcessor 2026-01-11 [plugin]: internal error: ReadFailed: \
         undeclared-table: FailingJavaScriptProcessor did not declare nba_raw.box_scores \
         among its inputs (nba_raw.schedule)",
    );
}

/// `component` run under `memory_mib` fails at instantiation with
/// `limit_memory`, the cap and the size asked for in the message.
fn fails_at_instantiation_under(component: &Path, memory_mib: u64) {
    let (inputs, _) = daily_cache_golden();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("slate.toml"),
        format!("[limits]\nmemory_mib = {memory_mib}\n"),
    )
    .unwrap();
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
        &format!(
            "[limit_memory]: instantiation failed: memory limit of {} bytes exceeded: \
             the processor asked for",
            memory_mib << 20
        ),
    );
}

#[test]
fn a_python_processor_under_its_start_up_memory_fails_at_instantiation_with_limit_memory() {
    let Some(component) = PYTHON.example(
        "a_python_processor_under_its_start_up_memory_fails_at_instantiation_with_limit_memory",
        "player-daily-cache-py",
    ) else {
        return;
    };
    // CPython asks for about 12 MiB before `process` runs.
    fails_at_instantiation_under(&component, 8);
}

#[test]
fn a_javascript_processor_under_its_start_up_memory_fails_at_instantiation_with_limit_memory() {
    let Some(component) = JAVASCRIPT.example(
        "a_javascript_processor_under_its_start_up_memory_fails_at_instantiation_with_limit_memory",
        "player-daily-cache-js",
    ) else {
        return;
    };
    // The engine asks for about 7.4 MiB before `process` runs.
    fails_at_instantiation_under(&component, 4);
}

/// `slate new games-per-team --lang LANGUAGE` makes a processor that
/// `slate build` builds with `tool` and that passes its own golden test.
fn slate_new_builds_and_passes_its_own_golden_test(
    language: &str,
    toolchain: &Toolchain,
    tool: &Path,
) {
    let parent = tempfile::tempdir().unwrap();
    let made = slate(&[
        "new",
        "games-per-team",
        "--lang",
        language,
        "--parent",
        parent.path().to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let dir = parent.path().join("games-per-team");
    let component = dir.join("games-per-team.wasm");
    slate_build(&dir, &component, toolchain, tool);

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
fn slate_new_makes_a_python_processor_that_builds_and_passes_its_own_golden_test() {
    let test = "slate_new_makes_a_python_processor_that_builds_and_passes_its_own_golden_test";
    let Some(tool) = PYTHON.find(test) else {
        return;
    };
    slate_new_builds_and_passes_its_own_golden_test("python", &PYTHON, &tool);
}

#[test]
fn slate_new_makes_a_javascript_processor_that_builds_and_passes_its_own_golden_test() {
    let test = "slate_new_makes_a_javascript_processor_that_builds_and_passes_its_own_golden_test";
    let Some(tool) = JAVASCRIPT.find(test) else {
        return;
    };
    slate_new_builds_and_passes_its_own_golden_test("js", &JAVASCRIPT, &tool);
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

#[test]
fn the_javascript_sdks_own_tests_pass_under_node() {
    let test = "the_javascript_sdks_own_tests_pass_under_node";
    // jco runs on Node, so where it is installed `node` is too.
    if JAVASCRIPT.find(test).is_none() {
        return;
    }
    let sdk = workspace().join("plugins/sdk-js");

    let tests = Command::new("node")
        .args(["--import", "./tests/fake-host.mjs", "--test", "tests/"])
        .current_dir(&sdk)
        .output()
        .unwrap();

    let report = text(&tests.stdout);
    assert!(tests.status.success(), "{report}{}", text(&tests.stderr));
    assert_contains(&report, "# fail 0");
    assert_contains(&report, "# skipped 0");
    assert!(!report.contains("# pass 0\n"), "{report}");
}
