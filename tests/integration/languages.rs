//! Processors in other languages, built with `slate build` from
//! `plugins/examples/` and run through `slate test` like any component:
//! the Python and JavaScript PlayerDailyCaches pass the Rust processor's
//! golden test byte for byte and rebuild to the same bytes, a failing
//! processor in each language fails with kind `plugin` and the exception's
//! type and text, `slate new`'s templates pass their own golden tests, and
//! each SDK's own unit tests pass.
//!
//! Each component is built once per test run and reused. Without the
//! toolchain (see `scripts/guest-toolchains.sh`) a test says plainly that
//! it skipped and how to install it; under CI (env `CI` set) it fails.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use slate::plugin::spec::{Lookback, SeasonStart};

use crate::support::assert_contains;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A guest language and its build tool: the variable that names the tool,
/// its name on the `PATH`, where `scripts/guest-toolchains.sh` puts it,
/// and the script's command that does.
struct Toolchain {
    variable: &'static str,
    tool: &'static str,
    installed: &'static str,
    install: &'static str,
    /// The language as `slate new --lang` names it.
    language: &'static str,
    /// The suffix of its examples' folders under `plugins/examples/`.
    suffix: &'static str,
    /// The word in its failing example's processor name.
    word: &'static str,
    /// A `memory_mib` below what the engine asks for before `process` runs.
    under_start_up_mib: u64,
}

const PYTHON: Toolchain = Toolchain {
    variable: "SLATE_COMPONENTIZE_PY",
    tool: "componentize-py",
    installed: ".guest-toolchains/python/bin/componentize-py",
    install: "install",
    language: "python",
    suffix: "py",
    word: "Python",
    // CPython asks for about 12 MiB.
    under_start_up_mib: 8,
};

/// jco with componentize-js; `slate build` finds esbuild beside it.
const JAVASCRIPT: Toolchain = Toolchain {
    variable: "SLATE_JCO",
    tool: "jco",
    installed: ".guest-toolchains/node/node_modules/.bin/jco",
    install: "install-js",
    language: "js",
    suffix: "js",
    word: "JavaScript",
    // The engine asks for about 7.4 MiB.
    under_start_up_mib: 4,
};

/// A toolchain found on this machine.
struct Guest {
    toolchain: &'static Toolchain,
    tool: PathBuf,
}

/// Declares a test once per guest language, as `NAME::python` and
/// `NAME::javascript`. Its body runs with `$guest`, the language's
/// [`Guest`]; without the tool the test says that it skipped instead (and
/// fails under CI, see [`Toolchain::find`]).
macro_rules! in_each_language {
    ($(#[doc = $doc:literal])* fn $name:ident($guest:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            use super::*;

            #[test]
            fn python() {
                in_language(&PYTHON, concat!(stringify!($name), "::python"), |$guest| $body);
            }

            #[test]
            fn javascript() {
                in_language(&JAVASCRIPT, concat!(stringify!($name), "::javascript"), |$guest| $body);
            }
        }
    };
}

/// Runs `body` with `toolchain`'s [`Guest`], or says that `test` skipped.
fn in_language(toolchain: &'static Toolchain, test: &str, body: impl FnOnce(Guest)) {
    if let Some(tool) = toolchain.find(test) {
        body(Guest { toolchain, tool });
    }
}

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
}

impl Guest {
    /// The example `NAME-SUFFIX` under `plugins/examples/`, built with this
    /// language's tool.
    fn example(&self, name: &str) -> PathBuf {
        built(&format!("{name}-{}", self.toolchain.suffix), self)
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

/// `slate test COMPONENT --date 2026-01-11 --fixtures FIXTURES MORE...` in
/// the data folder `data`.
fn slate_test_in(data: &Path, component: &Path, fixtures: &Path, more: &[&str]) -> Output {
    let (component, fixtures) = (component.to_str().unwrap(), fixtures.to_str().unwrap());
    let args = [
        "test",
        component,
        "--date",
        "2026-01-11",
        "--fixtures",
        fixtures,
    ];
    slate_in(data, &[&args[..], more].concat())
}

/// Builds the example `name` under `plugins/examples/` with `slate build`
/// and `guest`'s tool, once per test run (examples build in parallel); the
/// component's path.
fn built(name: &str, guest: &Guest) -> PathBuf {
    type Builds = HashMap<String, Arc<OnceLock<PathBuf>>>;
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static BUILDS: Mutex<Option<Builds>> = Mutex::new(None);
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let once = BUILDS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(name.to_string())
        .or_default()
        .clone();
    once.get_or_init(|| {
        let output = dir.path().join(format!("{name}.wasm"));
        let source = workspace().join("plugins/examples").join(name);
        slate_build(&source, &output, guest);
        output
    })
    .clone()
}

/// `slate build SOURCE -o OUTPUT` with `guest`'s tool, which must succeed;
/// it says on stderr how long the build took.
/// Given as a path relative to where `slate` runs, as a user in the
/// folder above types it: before, a Rust crate's build then looked for
/// its output below a path taken twice.
fn slate_build(source: &Path, output: &Path, guest: &Guest) {
    let started = std::time::Instant::now();
    let build = Command::new(env!("CARGO_BIN_EXE_slate"))
        .current_dir(source.parent().unwrap())
        .arg("build")
        .arg(source.file_name().unwrap())
        .arg("--output")
        .arg(output)
        .env(guest.toolchain.variable, &guest.tool)
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
    let (inputs, expected) = daily_cache_golden();

    let passed = slate_test_in(
        shared_data(),
        component,
        &inputs,
        &["--expect", expected.to_str().unwrap(), "--tolerance", "0"],
    );
    assert_eq!(passed.status.code(), Some(0), "{}", text(&passed.stdout));
    assert_contains(
        &text(&passed.stdout),
        "PASS PlayerDailyCacheProcessor 2026-01-11: 2 rows match the golden file",
    );

    // Written out, its rows are the Rust processor's golden file, byte for byte.
    let scratch = tempfile::tempdir().unwrap();
    let rewritten = scratch.path().join("2026-01-11.expected.ndjson");
    std::fs::write(&rewritten, "").unwrap();
    let updated = slate_test_in(
        shared_data(),
        component,
        &inputs,
        &["--expect", rewritten.to_str().unwrap(), "--update"],
    );
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

    let failed = slate_test_in(shared_data(), component, &fixtures, &[]);

    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stdout));
    assert_contains(&text(&failed.stdout), expected);
}

in_each_language! {
    /// The language's PlayerDailyCacheProcessor passes the Rust processor's
    /// golden test byte for byte.
    fn player_daily_cache_passes_the_rust_processors_golden_test_byte_for_byte(guest) {
        passes_the_daily_cache_golden_test_byte_for_byte(&guest.example("player-daily-cache"));
    }
}

in_each_language! {
    /// The SDK answers the `season` export from the declaration: the
    /// daily cache reads its upstream over the season to date, as the Rust
    /// one does, and a processor that declares no season reads none.
    fn the_declared_season_reaches_the_host_through_the_season_export(guest) {
        let runtime = slate::plugin::Runtime::new(None).unwrap();
        let load = |path: PathBuf| runtime.load(&std::fs::read(path).unwrap()).unwrap().spec;
        let cache = load(guest.example("player-daily-cache"));
        assert_eq!(
            cache.lookback_of("PlayerGameSummaryProcessor"),
            Lookback::SeasonToDate(SeasonStart { month: 10, day: 1 })
        );
        assert_eq!(load(guest.example("failing")).season, None);
    }
}

in_each_language! {
    /// An uncaught read error fails the run as a plugin error with the
    /// exception's type and text.
    fn an_uncaught_read_error_fails_the_run_as_a_plugin_error_with_the_exceptions_type_and_text(guest) {
        let name = format!("Failing{}Processor", guest.toolchain.word);
        fails_as_a_plugin_error(
            &guest.example("failing"),
            &format!("failing-{}", guest.toolchain.suffix),
            &format!(
                "FAIL {name} 2026-01-11 [plugin]: internal error: ReadFailed: \
                 undeclared-table: {name} did not declare nba_raw.box_scores \
                 among its inputs (nba_raw.schedule)"
            ),
        );
    }
}

/// A JavaScript processor's logged stack names the author's files and
/// lines: `slate build` keeps esbuild's source map in the component, and
/// the host gives each frame of the bundle at its place in the author's
/// files. Before, every frame named a line of the bundle, which the author
/// never sees (`teamsPlaying@app.js:565:37` for line 23 of `app.js`).
#[test]
fn a_javascript_stack_names_the_authors_lines_not_the_bundles() {
    let test = "a_javascript_stack_names_the_authors_lines_not_the_bundles";
    let Some(tool) = JAVASCRIPT.find(test) else {
        return;
    };
    let guest = Guest {
        toolchain: &JAVASCRIPT,
        tool,
    };
    let component = guest.example("failing");
    let example = workspace().join("plugins/examples/failing-js");
    // Where `teamsPlaying` calls the read the host refuses.
    let app = std::fs::read_to_string(example.join("app.js")).unwrap();
    let (line, call) = (app.lines().enumerate())
        .find(|(_, source)| source.contains("readColumnBatch('nba_raw.box_scores'"))
        .unwrap();
    let column = call.find("readColumnBatch").unwrap();

    let failed = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(shared_data())
        .args(["test", component.to_str().unwrap(), "--date", "2026-01-11"])
        .arg("--fixtures")
        .arg(example.join("fixtures"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();

    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stdout));
    let logged = text(&failed.stderr);
    assert_contains(
        &logged,
        &format!("\n    teamsPlaying@app.js:{}:{}\n", line + 1, column + 1),
    );
    // The SDK's frames name its files, as a processor folder imports them.
    assert_contains(&logged, "\n    ReadFailed@slate-sdk/batch.js:");
    // And its functions their names: esbuild numbers one whose name another
    // module uses too (`readColumnBatch2`).
    assert_contains(&logged, "\n    readColumnBatch@slate-sdk/batch.js:");
    assert!(!logged.contains("readColumnBatch2@"), "{logged}");
}

/// The files of the example `name`, copied into a folder of another name
/// and path and built there, build the same bytes as `built`, which was
/// built from `plugins/examples/`, at another time, by another process.
fn rebuilds_byte_for_byte(name: &str, built: &Path, guest: &Guest) {
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("copied-processor");
    std::fs::create_dir(&copy).unwrap();
    let source = workspace().join("plugins/examples").join(name);
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        // Symbolic links (the shared schema) are copied as the files they name.
        if entry.path().is_file() {
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    let rebuilt = elsewhere.path().join("rebuilt.wasm");

    slate_build(&copy, &rebuilt, guest);

    let (first, second) = (
        std::fs::read(built).unwrap(),
        std::fs::read(&rebuilt).unwrap(),
    );
    let differing = first.iter().zip(&second).filter(|(a, b)| a != b).count();
    assert!(
        first == second,
        "{name}: {} bytes, then {} bytes, {differing} of them different",
        first.len(),
        second.len()
    );
}

in_each_language! {
    /// The same files build the same bytes: a second build of the
    /// PlayerDailyCache example, from a copy in another folder, is the
    /// first one byte for byte.
    fn the_same_files_build_the_same_bytes(guest) {
        if !cfg!(target_os = "linux") {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED the_same_files_build_the_same_bytes: builds are pinned on Linux only"
            );
            return;
        }
        let name = format!("player-daily-cache-{}", guest.toolchain.suffix);
        rebuilds_byte_for_byte(&name, &guest.example("player-daily-cache"), &guest);
    }
}

in_each_language! {
    /// A module beside the processor that processor.toml's `files` leaves
    /// out is not bundled, and the build fails: the failure names the file
    /// and says to list it, after the tool's own error (before, a long
    /// trace ending in "No module named 'helpers'").
    fn an_import_of_a_file_left_out_of_files_is_named_with_the_fix(guest) {
        let folder = tempfile::tempdir().unwrap();
        let processor = folder.path().join("unlisted");
        std::fs::create_dir(&processor).unwrap();
        // A module in a subfolder, and a decoy beside it that is not it.
        let (entry, source, helpers, decoy, named) = match guest.toolchain.language {
            "python" => (
                "app.py",
                "import util.helpers\n",
                &["util/__init__.py", "util/helpers.py"][..],
                "util.py.txt",
                "\"util/__init__.py\", \"util/helpers.py\"",
            ),
            _ => (
                "app.js",
                "import { VALUE } from './lib/helpers.js';\nexport { VALUE };\n",
                &["lib/helpers.js"][..],
                "lib.js",
                "\"lib/helpers.js\"",
            ),
        };
        std::fs::write(processor.join(entry), source).unwrap();
        for helper in helpers.iter().chain([&decoy]) {
            let file = processor.join(helper);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, "VALUE = 1\n").unwrap();
        }
        std::fs::write(processor.join("schema.json"), "[]").unwrap();
        let build = Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("build")
            .arg(&processor)
            .arg("--output")
            .arg(folder.path().join("unlisted.wasm"))
            .env(guest.toolchain.variable, &guest.tool)
            .output()
            .unwrap();
        assert!(!build.status.success(), "{}", text(&build.stdout));
        let listed = helpers.join(", ");
        let are = if helpers.len() == 1 { "is" } else { "are" };
        assert_contains(
            &text(&build.stderr),
            &format!(
                "hint: {listed} {are} in the processor's folder, but not in `files` of \
                 processor.toml: a build bundles only the files listed there (add {named})"
            ),
        );
    }
}

in_each_language! {
    /// An error in the app's top level, which the build runs as it
    /// snapshots the module, is reported at the author's line: before, a
    /// JavaScript one named the bundle's line (`app.js:556:1`), and a
    /// Python one came inside componentize-py's own traceback and fifty
    /// lines of its Rust backtrace, with the file as `/0/app.py`.
    fn an_error_in_the_apps_top_level_fails_the_build_at_the_authors_line(guest) {
        let parent = tempfile::tempdir().unwrap();
        let processor = new_processor(parent.path(), "broken", &guest);
        let (entry, error) = match guest.toolchain.language {
            "python" => ("app.py", "raise RuntimeError('at the top')\n"),
            _ => ("app.js", "null.boom();\n"),
        };
        let mut source = std::fs::read_to_string(processor.join(entry)).unwrap();
        source.push_str(error);
        let line = source.lines().count();
        std::fs::write(processor.join(entry), source).unwrap();
        let said = match guest.toolchain.language {
            "python" => format!("  File \"app.py\", line {line}, in <module>\n"),
            _ => format!("\napp.js:{line}:1 TypeError"),
        };

        let build = Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("build")
            .arg(&processor)
            .arg("--output")
            .arg(parent.path().join("broken.wasm"))
            .env(guest.toolchain.variable, &guest.tool)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();

        assert!(!build.status.success(), "{}", text(&build.stdout));
        let said_back = text(&build.stderr);
        assert_contains(&said_back, &said);
        assert!(!said_back.contains("Stack backtrace"), "{said_back}");
        assert!(!said_back.contains("\"/0/"), "{said_back}");
    }
}

/// A Python processor that imports a module found only in the machine's
/// site-packages does not build: componentize-py would search the
/// site-packages of the `python3` on the PATH when no virtual environment
/// is set, and `slate build` gives it an empty one.
#[test]
fn a_python_module_from_the_machines_site_packages_is_never_bundled() {
    let Some(tool) =
        PYTHON.find("a_python_module_from_the_machines_site_packages_is_never_bundled")
    else {
        return;
    };
    let machine = tempfile::tempdir().unwrap();
    let site_packages = machine.path().join("site-packages");
    std::fs::create_dir(&site_packages).unwrap();
    std::fs::write(site_packages.join("leaky_helper.py"), "VALUE = 1\n").unwrap();
    // A python3 whose site module names that folder, first on the PATH.
    let bin = machine.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let python3 = bin.join("python3");
    std::fs::write(
        &python3,
        format!("#!/bin/sh\necho '{}'\n", site_packages.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &python3,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let processor = machine.path().join("leaky");
    std::fs::create_dir(&processor).unwrap();
    std::fs::write(processor.join("app.py"), "import leaky_helper\n").unwrap();
    std::fs::write(processor.join("schema.json"), "[]").unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let build = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("build")
        .arg(&processor)
        .arg("--output")
        .arg(machine.path().join("leaky.wasm"))
        .env(PYTHON.variable, &tool)
        .env("PATH", path)
        .output()
        .unwrap();

    assert!(!build.status.success(), "{}", text(&build.stdout));
    assert_contains(&text(&build.stderr), "No module named 'leaky_helper'");
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

    let failed = slate_test_in(data.path(), component, &inputs, &[]);

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

in_each_language! {
    /// Under the memory its engine asks for at start-up, a processor fails
    /// at instantiation with `limit_memory`.
    fn a_processor_under_its_start_up_memory_fails_at_instantiation_with_limit_memory(guest) {
        fails_at_instantiation_under(
            &guest.example("player-daily-cache"),
            guest.toolchain.under_start_up_mib,
        );
    }
}

/// `slate new NAME --lang LANGUAGE` in `parent`: the processor's folder.
fn new_processor(parent: &Path, name: &str, guest: &Guest) -> PathBuf {
    let made = slate(&[
        "new",
        name,
        "--lang",
        guest.toolchain.language,
        "--parent",
        parent.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    parent.join(name)
}

/// `slate new games-per-team --lang LANGUAGE` makes a processor that
/// `slate build` builds with `guest`'s tool and that passes its own golden
/// test.
fn slate_new_builds_and_passes_its_own_golden_test(guest: &Guest) {
    let parent = tempfile::tempdir().unwrap();
    let dir = new_processor(parent.path(), "games-per-team", guest);
    let component = dir.join("games-per-team.wasm");
    slate_build(&dir, &component, guest);

    let fixtures = dir.join("fixtures");
    let golden = fixtures.join("2026-01-11.expected.ndjson");
    let passed = slate_test_in(
        shared_data(),
        &component,
        &fixtures,
        &["--expect", golden.to_str().unwrap()],
    );
    assert_eq!(passed.status.code(), Some(0), "{}", text(&passed.stdout));
    assert_contains(
        &text(&passed.stdout),
        "PASS GamesPerTeamProcessor 2026-01-11: 2 rows match the golden file",
    );
}

in_each_language! {
    /// `slate new` makes a processor that builds and passes its own golden
    /// test.
    fn slate_new_makes_a_processor_that_builds_and_passes_its_own_golden_test(guest) {
        slate_new_builds_and_passes_its_own_golden_test(&guest);
    }
}

#[test]
fn slate_new_makes_a_rust_crate_with_fixtures_and_refuses_a_bad_name_or_an_existing_folder() {
    let parent = tempfile::tempdir().unwrap();
    let parent_arg = parent.path().to_str().unwrap();
    let made = slate(&["new", "rest-days", "--lang", "rust", "--parent", parent_arg]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    // Outside a workspace that has slate-sdk the crate cannot build: said at once.
    assert_contains(
        &text(&made.stderr),
        "in no Cargo workspace that provides slate-sdk",
    );
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
    // A name longer than a table's name may be, and a mistyped --parent,
    // are wrong command lines; nothing is made. Before, the first failed
    // writing a file (exit 1) and the second made the whole missing path.
    let long = format!("rest-days{}", "-rest-days".repeat(30));
    let too_long = slate(&["new", &long, "--lang", "rust", "--parent", parent_arg]);
    assert_eq!(too_long.status.code(), Some(2));
    assert_contains(&text(&too_long.stderr), "at most 40");
    let nowhere = parent.path().join("typo/plugins");
    let nowhere_arg = nowhere.to_str().unwrap();
    let no_parent = slate(&[
        "new",
        "rest-days",
        "--lang",
        "rust",
        "--parent",
        nowhere_arg,
    ]);
    assert_eq!(no_parent.status.code(), Some(2));
    assert_contains(&text(&no_parent.stderr), "is no folder: give --parent");
    assert!(!parent.path().join("typo").exists());
    // A bundled processor's name would replace it once deployed.
    let bundled = slate(&[
        "new",
        "player-game-summary",
        "--lang",
        "rust",
        "--parent",
        parent_arg,
    ]);
    assert_eq!(bundled.status.code(), Some(2));
    assert_contains(
        &text(&bundled.stderr),
        "PlayerGameSummaryProcessor, a bundled processor",
    );
    assert!(!parent.path().join("player-game-summary").exists());
    // In a workspace that provides slate-sdk, no note.
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(
        workspace.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\"plugins/*\"]\n\n[workspace.dependencies]\n\
         slate-sdk = { path = \"sdk\" }\n",
    )
    .unwrap();
    let plugins = workspace.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let inside = slate(&[
        "new",
        "rest-days",
        "--lang",
        "rust",
        "--parent",
        plugins.to_str().unwrap(),
    ]);
    assert!(inside.status.success(), "{}", text(&inside.stderr));
    assert!(
        !text(&inside.stderr).contains("note:"),
        "{}",
        text(&inside.stderr)
    );
    let cobol = slate(&["new", "rest", "--lang", "cobol", "--parent", parent_arg]);
    assert_eq!(cobol.status.code(), Some(2));
    // The command line is at fault, not a processor.toml that `new` never read.
    let refused = text(&cobol.stderr);
    assert_contains(&refused, "--lang");
    assert_contains(&refused, "unknown language `cobol`");
    assert!(!refused.contains("processor.toml"), "{refused}");
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
        .args(["--world", slate::build::WORLD, "bindings"])
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
