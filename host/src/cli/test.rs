//! `slate test`: one plugin against fixtures or a replayed date, with a golden diff.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::NaiveDate;
use slate::limits::LimitsConfig;
use slate::plugin::Plugin;
use slate::testing::{self, EXIT_PLUGIN_FAILURE, Inputs, Outcome, TestCase};

use super::{HostOptions, UsageError};

/// Where the inputs come from, as asked on the command line.
pub enum InputChoice {
    /// A fixtures folder.
    Fixtures(PathBuf),
    /// The store in the data directory, read-only.
    Replay,
}

/// A `slate test` invocation.
pub struct TestRequest {
    /// The component file.
    pub plugin: PathBuf,
    /// The analysis date.
    pub date: NaiveDate,
    /// Fixtures or replay.
    pub inputs: InputChoice,
    /// The golden file.
    pub expect: Option<PathBuf>,
    /// Rewrite the golden file.
    pub update: bool,
    /// Tolerance for fractional numbers: relative to the expected value,
    /// or absolute where it is below 1.
    pub tolerance: f64,
}

/// The most bytes of a bad fixture's message `slate test` prints.
const BAD_FIXTURE_BYTES: usize = 4096;

/// Runs the test and prints its outcome; the exit code says which outcome.
pub fn test(options: &HostOptions, request: TestRequest) -> Result<ExitCode> {
    // The data folder's compile cache: a large component (a Python one is
    // about 18 MB) compiles once, not on every `slate test`.
    let runtime = super::plugins::runtime(options)?;
    let bytes = std::fs::read(&request.plugin)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", request.plugin.display())))?;
    let plugin = match runtime.load(&bytes) {
        Ok(plugin) => plugin,
        Err(error) => {
            say_failed(&request.plugin, &error);
            return Ok(ExitCode::from(EXIT_PLUGIN_FAILURE));
        }
    };
    // Refused wherever production loads it, whatever the data folder
    // holds: a table the host owns, or one the processor also reads.
    let claimant = slate::ownership::Claimant::of(&plugin.spec);
    if let Some((_, refused)) = slate::ownership::Ledger::default()
        .refusals(&[claimant])
        .into_iter()
        .next()
    {
        say_failed(&request.plugin, &refused);
        return Ok(ExitCode::from(EXIT_PLUGIN_FAILURE));
    }
    // The processors a host would load beside it (bundled, deployed, the
    // plugin folder's; the one it would replace left out): whose tables
    // it may read only by naming them upstream, and how far back.
    let ledger = super::plugins::ledger(options)?;
    let registry = super::plugins::existing_registry(options)?;
    let (loaded, _) = slate::catalog::load_leaving_out_refused(
        &runtime,
        registry.as_ref(),
        options.plugin_dir.as_deref(),
        &ledger,
        None,
    )?;
    let beside: Vec<Plugin> = loaded
        .into_iter()
        .map(|loaded| loaded.plugin)
        .filter(|other| other.spec.name != plugin.spec.name)
        .collect();
    // A host refuses to load it where an upstream it names is not among
    // them, or the names loop back on it.
    let specs = beside.iter().chain([&plugin]).map(|p| p.spec.as_ref());
    if let Err(refused) = slate::dag::order(specs) {
        say_failed(&request.plugin, &refused);
        return Ok(ExitCode::from(EXIT_PLUGIN_FAILURE));
    }
    let writers: Vec<_> = beside.iter().map(slate::catalog::claimant).collect();
    if let Some(refused) = ledger.read_refusal(claimant, &writers) {
        say_failed(&request.plugin, &refused);
        return Ok(ExitCode::from(EXIT_PLUGIN_FAILURE));
    }
    let known = testing::known_schemas(&beside);
    let limits = LimitsConfig::load(&options.data_dir.config_file())?;
    // A replay adds the lookback gaps production's check finds that date,
    // as production does, so that its rows are the live table's; both
    // bound the reads by the processor's lookback, as production does.
    let (inputs, quality_issues, window) = match request.inputs {
        InputChoice::Fixtures(dir) => {
            let window = testing::fixture_window(&plugin, &beside, request.date);
            (Inputs::Fixtures(dir), Vec::new(), window)
        }
        InputChoice::Replay => {
            let store = options.warehouse.open_for_replay(&options.data_dir)?;
            // As `slate run` checks it: within the schedule's seasons and
            // their margin, or the range `slate.toml` sets.
            let dates = slate::dates::DatesConfig::load(&options.data_dir.config_file())?;
            let calendar = slate::pipeline::default_calendar();
            slate::dates::serving_range(store.as_ref(), &calendar, &dates)?.check(request.date)?;
            let check = testing::replayed_check(store.as_ref(), &plugin, &beside, request.date)?;
            let gaps = slate::upstream_check::gap_issues(&check.gaps);
            (Inputs::Replay(store), gaps, check.read_window)
        }
    };
    let case = TestCase {
        date: request.date,
        inputs,
        expect: request.expect.clone(),
        update: request.update,
        tolerance: request.tolerance,
        limits: limits.for_processor(&plugin.spec.name),
        quality_issues,
        window,
    };
    let name = &plugin.spec.name;
    let outcome = testing::run(&plugin, &case, &known);
    match &outcome {
        Outcome::Passed {
            rows,
            compared: true,
        } => {
            println!(
                "PASS {name} {}: {rows} rows match the golden file",
                request.date
            );
        }
        Outcome::Passed {
            rows,
            compared: false,
        } => {
            println!(
                "PASS {name} {}: {rows} valid rows (no golden file given)",
                request.date
            );
        }
        Outcome::Updated { rows } => {
            let path = request
                .expect
                .as_deref()
                .unwrap_or(std::path::Path::new("?"));
            println!(
                "UPDATED {}: {rows} rows from {name} {}",
                path.display(),
                request.date
            );
        }
        Outcome::Differs(differences) => {
            println!(
                "DIFF {name} {}: {} difference{}",
                request.date,
                differences.len(),
                if differences.len() == 1 { "" } else { "s" }
            );
            for difference in differences {
                println!("  {}", slate::printable::one_line(&difference.to_string()));
            }
        }
        Outcome::PluginFailed(failure) => {
            println!(
                "FAIL {name} {} [{}]: {}",
                request.date,
                failure.kind,
                slate::printable::lines(&failure.message)
            );
        }
        // A fixture's own text it quotes (a 50,000-character field name)
        // is cut, as a diff's values are.
        Outcome::BadFixture(message) => println!(
            "BAD FIXTURE {}",
            slate::printable::lines(&slate::rows::cut_short(message.clone(), BAD_FIXTURE_BYTES))
        ),
    }
    Ok(ExitCode::from(outcome.exit_code()))
}

/// `FAIL FILE: WHY` on stderr, for a plugin that could not be tested: the
/// file's name and the refusal, which may quote the component's own
/// declared names, escaped.
fn say_failed(plugin: &std::path::Path, why: &dyn std::fmt::Display) {
    say!(
        "FAIL {}: {}",
        slate::printable::one_line(&plugin.display().to_string()),
        slate::printable::lines(&why.to_string())
    );
}
