//! Command-line parsing and dispatch. Each command lives in its own module;
//! errors go back to `main` as `anyhow` errors and print on one line.
//!
//! Exit codes: 0 success; 1 the command ran and something failed (a run,
//! the health check, a host error); 2 the command line is wrong ([`UsageError`],
//! a bad date, an unknown processor, a bad `slate.toml`, a missing store,
//! two `--plugin-dir` components of one name);
//! `slate test` adds 3 (plugin failure) and 4 (bad fixture or golden file).

/// `eprintln!` that cannot panic: a message stderr does not take (a full
/// disk under a redirected stderr, a closed pipe) is dropped. `eprintln!`
/// panics there, in the middle of a backfill, and a run in flight would
/// end `failed` as the host's panic. Defined before the modules, so each
/// of them has it.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod alerts;
mod backfill;
mod build;
mod demo;
mod health;
mod hosts;
mod interrupt;
mod logging;
mod new;
mod plugins;
mod quarantine;
mod render;
mod run;
mod schedules;
mod serve;
mod shadow;
mod tables;
mod test;
mod warehouse;

pub use logging::init_logging;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use slate::data_dir::{DEFAULT_DATA_DIR, DataDir};
use slate::dates::{self, DatesConfig};
use slate::executor::Executor;
use slate::limits::LimitsConfig;
use slate::liveness::LeaseConfig;
use slate::ownership::Ledger;
use slate::pipeline::Pipeline;
use slate::plugin::Runtime;
use slate::registry::Registry;
use slate::runs::RunFilter;
use slate::store::{Store, StoreError};

/// Runs analytics and precompute processors as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "slate", version)]
struct Cli {
    /// Where the store and the compiled-component cache live.
    #[arg(long, global = true, env = "SLATE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Also load every `.wasm` component in this folder, besides the bundled processors.
    #[arg(long, global = true, env = "SLATE_PLUGIN_DIR")]
    plugin_dir: Option<PathBuf>,
    /// Seconds between lease renewals of a running run.
    #[arg(
        long = "heartbeat-secs",
        global = true,
        env = "SLATE_HEARTBEAT_SECS",
        default_value = "10",
        value_name = "SECONDS",
        value_parser = seconds
    )]
    heartbeat: Duration,
    /// Seconds a lease holds without renewal; a running run past it is stale.
    #[arg(
        long = "lease-secs",
        global = true,
        env = "SLATE_LEASE_SECS",
        default_value = "60",
        value_name = "SECONDS",
        value_parser = seconds
    )]
    lease: Duration,
    /// Meter fuel, so that `fuel` limits in slate.toml are enforced.
    #[arg(long, global = true)]
    fuel: bool,
    /// Seconds a run may keep running before it is flagged and cancelled.
    #[arg(
        long = "max-runtime-secs",
        global = true,
        env = "SLATE_MAX_RUNTIME_SECS",
        default_value = "14400",
        value_name = "SECONDS",
        value_parser = seconds
    )]
    max_runtime: Duration,
    #[command(flatten)]
    warehouse: warehouse::WarehouseArgs,
    #[command(subcommand)]
    command: Command,
}

/// One name of a comma-separated `--processors` list: an empty one (a
/// doubled or trailing comma) is named as such, where clap's own parser
/// said "a value is required ... but none was supplied" of a flag given
/// one.
fn processor_name(name: &str) -> Result<String, String> {
    match name.trim() {
        "" => Err("an empty processor name: a doubled or trailing comma?".to_string()),
        name => Ok(name.to_string()),
    }
}

/// A `--plugin-hash`: hex digits ([`slate::plugin::hash_prefix`]).
fn plugin_hash(text: &str) -> Result<String, String> {
    slate::plugin::hash_prefix(text)
}

#[derive(Subcommand)]
enum Command {
    /// Runs processors for one date, in dependency order.
    Run {
        /// The analysis date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Only these processors (comma-separated); all when omitted.
        #[arg(long, value_delimiter = ',', value_parser = processor_name)]
        processors: Vec<String>,
    },
    /// Lists run history, newest first.
    Runs {
        /// Only runs for this date, YYYY-MM-DD.
        #[arg(long)]
        date: Option<String>,
        /// Only runs of this processor.
        #[arg(long)]
        processor: Option<String>,
        /// Only runs with this status (running, success, failed, blocked).
        #[arg(long)]
        status: Option<String>,
        /// Only runs of the plugin version with this content hash (or a
        /// prefix of it).
        #[arg(long, value_parser = plugin_hash)]
        plugin_hash: Option<String>,
        /// Only `running` runs whose lease has expired.
        #[arg(long, conflicts_with = "status")]
        stale: bool,
        /// At most this many runs.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// Instead, the (processor, date) pairs whose latest success ran
        /// another version than the active one, or read an upstream that
        /// has changed since: those of NAME, or of every processor.
        #[arg(
            long,
            value_name = "NAME",
            num_args = 0..=1,
            default_missing_value = "",
            conflicts_with_all = ["date", "processor", "status", "plugin_hash", "stale", "limit"]
        )]
        outdated: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Runs a plugin against fixture tables (or a real date's data, read-only)
    /// with production's imports, limits and validation, and diffs its output
    /// against a golden file. Exit codes: 0 pass, 1 diff, 3 plugin failure,
    /// 4 bad fixture or golden file (2 is a usage error).
    Test {
        /// The component to test.
        plugin: PathBuf,
        /// The analysis date, YYYY-MM-DD (defaults to the --replay date).
        #[arg(long)]
        date: Option<String>,
        /// A folder with one dataset.table.ndjson or .csv file per input table.
        #[arg(long, conflicts_with = "replay")]
        fixtures: Option<PathBuf>,
        /// Read the inputs of this date from the store, read-only, instead of fixtures.
        #[arg(long)]
        replay: Option<String>,
        /// The golden NDJSON file to compare the output with.
        #[arg(long)]
        expect: Option<PathBuf>,
        /// Rewrite the golden file with the output.
        #[arg(long, requires = "expect")]
        update: bool,
        /// Tolerance when comparing fractional numbers: relative to the
        /// expected value, or absolute where it is below 1.
        #[arg(long, default_value_t = 1e-9, value_parser = tolerance)]
        tolerance: f64,
    },
    /// Prints (or writes to DIR, one `dataset.table.json` each) the BigQuery
    /// JSON schema of every processor's output table.
    Schemas {
        /// Write the files into this folder instead of printing them.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Makes a processor folder to start from: its code with `info()`
    /// filled in, `schema.json`, fixtures with a golden file, and a README.
    New {
        /// The processor's folder name: lower-case words joined by hyphens.
        name: String,
        /// Its language: rust, python or javascript (js).
        #[arg(long, default_value = "rust")]
        lang: slate::build::Language,
        /// The folder to make it in.
        #[arg(long, default_value = ".")]
        parent: PathBuf,
    },
    /// Builds a processor folder (Rust, Python, JavaScript) into a component,
    /// bundling only the files its `processor.toml` lists.
    Build {
        /// The processor's folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The component file (default: DIR/<folder name>.wasm).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Marks every stale run failed (kind `stale`), freeing its date.
    Reap,
    /// Lists the rows set aside by the `quarantine` bad-row policy, with
    /// their field errors and the raw row.
    Quarantine {
        /// Only the rows of this run.
        #[arg(long)]
        run: Option<String>,
        /// Print one JSON array, an object per row, instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Checks the pipeline: rows per table, missing dates, failed, blocked
    /// and stale runs, last successes. Exits non-zero when unhealthy.
    Health {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validates, precompiles and stores a processor component in the
    /// registry, and makes it the active version of its processor.
    Deploy {
        /// The component file.
        file: PathBuf,
        /// Store it as the processor's shadow version instead: run beside
        /// the active one on every date, into a table of its own.
        #[arg(long)]
        shadow: bool,
    },
    /// Lists every processor with its active version; `history NAME` lists
    /// the versions one processor had.
    Plugins {
        #[command(subcommand)]
        command: Option<PluginsCommand>,
    },
    /// Shadow versions: `run` replays one over past dates.
    Shadow {
        #[command(subcommand)]
        command: ShadowCommand,
    },
    /// Makes a processor's shadow version the active one, in one registry
    /// transaction; the dates the old version wrote are then outdated.
    Promote {
        /// The processor.
        name: String,
        /// Then rerun, with the new version, the dates the shadow covered,
        /// and the same dates of the processors downstream, so the live
        /// tables hold its rows there.
        #[arg(long)]
        backfill: bool,
        /// Keep the shadow's tables (by default they are dropped).
        #[arg(long)]
        keep: bool,
        /// Promote a shadow whose every run failed (refused without it).
        #[arg(long)]
        force: bool,
    },
    /// Compares a processor's shadow version with its active one, row by
    /// row by key, on the dates the shadow ran: rows only in one, rows
    /// changed, per-column differences, and schema changes.
    Diff {
        /// The processor.
        name: String,
        /// The first date to compare, YYYY-MM-DD.
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// The last date to compare, YYYY-MM-DD, included.
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lists every table with its owner (the one processor that may write
    /// it, or the host for raw inputs) and the transfers recorded.
    Tables {
        #[command(subcommand)]
        command: Option<TablesCommand>,
        /// Print one JSON object, with its tables and transfers, instead of
        /// a table.
        #[arg(long)]
        json: bool,
    },
    /// Ends a processor's registry version: its bundled version runs
    /// again, or, for one that is not bundled, it is gone. Its table keeps
    /// its rows and its owner; `slate rollback NAME` undoes it.
    Undeploy {
        /// The processor.
        name: String,
    },
    /// Makes an earlier version of a processor active again.
    Rollback {
        /// The processor.
        name: String,
        /// The version's hash (or a unique prefix); default: the version
        /// the current one replaced. Repeated, it goes further back, never
        /// forward to the version it left.
        #[arg(long)]
        to: Option<String>,
    },
    /// Runs processors over a range of dates, in dependency order, with
    /// independent dates in parallel. Exits non-zero when any run failed
    /// or was blocked; a run another invocation held is left to it ("not
    /// started")
    Backfill(backfill::BackfillArgs),
    /// Serves the HTTP API: process dates, backfills, runs, health,
    /// plugins and metrics. SIGHUP reads slate.toml again; SIGTERM or
    /// SIGINT shuts down gracefully.
    Serve(serve::ServeArgs),
    /// Lists alerts and each channel's delivery state; `test`, `check`,
    /// `resolve` and `deliver` act on them.
    Alerts {
        #[command(subcommand)]
        command: Option<alerts::AlertsCommand>,
        /// Only open alerts.
        #[arg(long)]
        open: bool,
        /// The most alerts to list, newest first; the list says when older
        /// ones were left out.
        #[arg(long, default_value = "500", value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Lists the `[[schedule]]`s of slate.toml with their next and last
    /// ticks (`slate serve` fires them).
    Schedules {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Lists the hosts sharing the run state of `--state` (seen in the
    /// last day): live or not, their runs running, the versions they
    /// compiled.
    Hosts {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Generates the demo season into the raw tables and runs the whole
    /// pipeline over every game date.
    Demo {
        /// The first date to run (default: the season's first day).
        #[arg(long)]
        from: Option<String>,
        /// The last date to run (default: the season's last day).
        #[arg(long)]
        to: Option<String>,
        /// How many runs may execute at once (1 to 256), as for `slate
        /// backfill`.
        #[arg(long, default_value = "2", value_parser = concurrent_runs)]
        parallelism: usize,
    },
}

#[derive(Subcommand)]
enum TablesCommand {
    /// Moves a table to another owner, and records the transfer. The only
    /// way a table changes hands: a renamed processor does not inherit it.
    Transfer {
        /// The table, dataset.table.
        table: String,
        /// The processor that will own it.
        #[arg(long, conflicts_with = "raw_input")]
        to: Option<String>,
        /// Make it a raw input the host owns, which no processor writes.
        #[arg(long)]
        raw_input: bool,
        /// `--to` names a processor not deployed yet, which will write the
        /// table once deployed. Without it, `--to` must name a processor
        /// this host knows (bundled, deployed, or in `--plugin-dir`) that
        /// writes the table, so a misspelt name is refused.
        #[arg(long, requires = "to")]
        before_deploy: bool,
    },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Lists the deployed versions of one processor, newest first.
    History {
        /// The processor.
        name: String,
    },
}

#[derive(Subcommand)]
enum ShadowCommand {
    /// Replays a processor's shadow version over past dates, against the
    /// stored inputs: only its shadow table is written.
    Run {
        /// The processor.
        name: String,
        /// The first date, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// The last date, YYYY-MM-DD, included.
        #[arg(long)]
        to: String,
        /// How many dates may run at once (1 to 256).
        #[arg(long, default_value_t = 2, value_parser = concurrent_runs)]
        parallelism: usize,
    },
    /// Ends a processor's shadow version without making it active: its
    /// runs stop, and its tables are dropped unless `--keep`.
    Drop {
        /// The processor.
        name: String,
        /// Keep the shadow's tables.
        #[arg(long)]
        keep: bool,
    },
}

/// Parses and runs the command line.
pub fn run() -> Result<ExitCode> {
    // Fixed now, before any run: what this process finds recorded under
    // its own id from before is an earlier process's.
    slate::liveness::process_started();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
        .unwrap_or_else(|error| error.exit());
    match &mut cli.command {
        Command::Serve(args) => {
            args.token_on_command_line = matches
                .subcommand_matches("serve")
                .and_then(|serve| serve.value_source("token"))
                == Some(clap::parser::ValueSource::CommandLine);
        }
        _ => end_quietly_when_stdout_closes(),
    }
    let options = HostOptions {
        given: globals_given(&matches),
        data_dir: DataDir::new(&cli.data_dir),
        warehouse: cli.warehouse.clone(),
        plugin_dir: cli.plugin_dir.clone(),
        fuel: cli.fuel,
        leases: LeaseConfig {
            heartbeat: cli.heartbeat,
            lease: cli.lease,
            max_runtime: cli.max_runtime,
        },
    };
    let LeaseConfig {
        heartbeat, lease, ..
    } = options.leases;
    if heartbeat >= lease {
        usage!(
            "--heartbeat-secs ({}) must be shorter than --lease-secs ({}): a lease would lapse \
             between renewals, and every running run would be reaped as stale",
            heartbeat.as_secs_f64(),
            lease.as_secs_f64()
        );
    }
    if !matches!(cli.command, Command::New { .. } | Command::Build { .. }) {
        // The commands that deliver alerts before they exit need the
        // channels' secrets; the others only a well-formed file.
        let delivers_alerts = matches!(
            cli.command,
            Command::Run { .. }
                | Command::Backfill(_)
                | Command::Demo { .. }
                | Command::Reap
                | Command::Deploy { .. }
                | Command::Rollback { .. }
                | Command::Undeploy { .. }
                | Command::Promote { .. }
                | Command::Serve(_)
        );
        check_data_dir(&options, delivers_alerts)?;
    }
    let outcome = match cli.command {
        Command::Run { date, processors } => run::run(&options, parse_date(&date)?, &processors),
        Command::Runs {
            date,
            processor,
            status,
            plugin_hash,
            stale,
            limit,
            outdated,
            json,
        } => {
            if let Some(name) = outdated {
                let only = Some(name).filter(|n| !n.is_empty());
                return run::outdated(&options, only.as_deref(), json);
            }
            let filter = RunFilter {
                date: date.as_deref().map(parse_date).transpose()?,
                dates: None,
                processor,
                status: status
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e| UsageError(format!("--status: {e}")))?,
                plugin_hash,
                stale_as_of: stale.then(chrono::Utc::now),
                changed_since: None,
                limit: Some(limit as usize),
                skip_upstream_check: false,
            };
            run::runs(&options, &filter, json)
        }
        Command::Reap => run::reap(&options),
        Command::Quarantine { run, json } => quarantine::quarantine(&options, run.as_deref(), json),
        Command::Schemas { out } => plugins::schemas(&options, out.as_deref()),
        Command::Build { dir, output } => build::build(&dir, output),
        Command::New { name, lang, parent } => new::new(&parent, &name, lang),
        Command::Test {
            plugin,
            date,
            fixtures,
            replay,
            expect,
            update,
            tolerance,
        } => {
            let replay = replay.as_deref().map(parse_date).transpose()?;
            let date = match (date.as_deref().map(parse_date).transpose()?, replay) {
                (Some(date), Some(replayed)) if date != replayed => usage!(
                    "--date {date} and --replay {replayed} name two dates: a replay runs \
                     the date it names (give one of them)"
                ),
                (Some(date), _) | (None, Some(date)) => date,
                (None, None) => usage!("give the analysis date with --date (or --replay)"),
            };
            // Fixtures have no schedule: the range is slate.toml's, or the
            // one a pipeline without a schedule serves. A replay's date is
            // checked against the store's schedule once the store is open.
            if replay.is_none() {
                let dates = DatesConfig::load(&options.data_dir.config_file())?;
                dates
                    .range(None, chrono::Utc::now().date_naive())
                    .check(date)?;
            }
            let inputs = match (fixtures, replay) {
                // A mistyped folder is the command line's error, not a bad
                // fixture (exit 4).
                (Some(dir), None) if !dir.is_dir() => match dir.exists() {
                    true => usage!("--fixtures {} is a file, not a folder", dir.display()),
                    false => usage!("--fixtures {} does not exist", dir.display()),
                },
                (Some(dir), None) => test::InputChoice::Fixtures(dir),
                (None, Some(_)) => test::InputChoice::Replay,
                _ => usage!("give the inputs with --fixtures DIR or --replay DATE"),
            };
            let request = test::TestRequest {
                plugin,
                date,
                inputs,
                expect,
                update,
                tolerance,
            };
            test::test(&options, request)
        }
        Command::Health { json } => health::health(&options, json),
        Command::Deploy { file, shadow } => plugins::deploy(&options, &file, shadow),
        Command::Plugins { command: None } => plugins::list(&options),
        Command::Plugins {
            command: Some(PluginsCommand::History { name }),
        } => plugins::history(&options, &name),
        Command::Promote {
            name,
            backfill,
            keep,
            force,
        } => plugins::promote(
            &options,
            &name,
            plugins::Promotion {
                backfill,
                keep,
                force,
            },
        ),
        Command::Shadow {
            command:
                ShadowCommand::Run {
                    name,
                    from,
                    to,
                    parallelism,
                },
        } => shadow::replay(&options, &name, parse_range(&from, &to)?, parallelism),
        Command::Shadow {
            command: ShadowCommand::Drop { name, keep },
        } => shadow::drop(&options, &name, keep),
        Command::Diff {
            name,
            from,
            to,
            json,
        } => {
            let range = match (from, to) {
                (Some(from), Some(to)) => Some(parse_range(&from, &to)?),
                _ => None,
            };
            shadow::diff(&options, &name, range, json)
        }
        Command::Tables {
            command: None,
            json,
        } => tables::list(&options, json),
        Command::Tables {
            command:
                Some(TablesCommand::Transfer {
                    table,
                    to,
                    raw_input,
                    before_deploy,
                }),
            ..
        } => tables::transfer(
            &options,
            &table,
            match (to, raw_input) {
                (Some(name), false) => tables::NewOwner::Processor {
                    name,
                    before_deploy,
                },
                (None, true) => tables::NewOwner::RawInput,
                _ => usage!("give the new owner with --to NAME, or --raw-input"),
            },
        ),
        Command::Rollback { name, to } => plugins::rollback(&options, &name, to.as_deref()),
        Command::Undeploy { name } => plugins::undeploy(&options, &name),
        Command::Backfill(args) => backfill::backfill(&options, args),
        Command::Serve(args) => serve::serve(&options, args),
        Command::Schedules { json } => schedules::list(&options, json),
        Command::Hosts { json } => hosts::list(&options, json),
        Command::Alerts {
            command,
            open,
            limit,
            json,
        } => alerts::alerts(&options, command, alerts::Listing { open, limit, json }),
        Command::Demo {
            from,
            to,
            parallelism,
        } => {
            let (from, to) = match (from, to) {
                (Some(from), Some(to)) => {
                    let (from, to) = parse_range(&from, &to)?;
                    (Some(from), Some(to))
                }
                (from, to) => (
                    from.as_deref().map(parse_date).transpose()?,
                    to.as_deref().map(parse_date).transpose()?,
                ),
            };
            demo::demo(&options, (from, to), parallelism)
        }
    };
    outcome.map_err(|error| naming_the_store_file(error, &options))
}
/// The most runs one host may execute at once (`--parallelism`,
/// `--workers`): each keeps a sandbox slot whose memory is reserved up
/// front, and a few thousand exhaust the address space.
pub const MAX_CONCURRENT_RUNS: usize = 256;

/// Parses a count of runs at once, from 1 to [`MAX_CONCURRENT_RUNS`].
fn concurrent_runs(text: &str) -> Result<usize, String> {
    let count: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    match count {
        1..=MAX_CONCURRENT_RUNS => Ok(count),
        _ => Err(format!("must be from 1 to {MAX_CONCURRENT_RUNS}")),
    }
}

/// A mistake in the command line or its flags: exits 2, as a bad date or a
/// bad `slate.toml` does ([`exit_code`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Returns early with a [`UsageError`].
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err($crate::cli::UsageError(format!($($arg)*)).into())
    };
}
pub(crate) use usage;

/// Checks that `--data-dir` is a folder (or not there yet) and that
/// `--plugin-dir`, if given, is one, then reads
/// every section of its `slate.toml` before the command does anything,
/// so a bad one is a usage error (exit 2) with nothing done: not a run
/// committed, a version deployed or a lease reaped first and the error
/// after, when the section is read where it is used.
fn check_data_dir(options: &HostOptions, with_secrets: bool) -> Result<()> {
    let root = options.data_dir.root();
    if root.exists() && !root.is_dir() {
        usage!("--data-dir {} is a file, not a folder", root.display());
    }
    // A mistyped folder is the command line's error: exit 1 would read as
    // `slate health`'s "unhealthy".
    if let Some(plugins) = &options.plugin_dir
        && !plugins.is_dir()
    {
        match plugins.exists() {
            true => usage!("--plugin-dir {} is a file, not a folder", plugins.display()),
            false => usage!("--plugin-dir {} does not exist", plugins.display()),
        }
    }
    let file = options.data_dir.config_file();
    LimitsConfig::load(&file)?;
    DatesConfig::load(&file)?;
    slate::schedule::load(&file)?;
    if with_secrets {
        slate::alerts::AlertsConfig::load(&file)?;
    } else {
        slate::alerts::AlertsConfig::load_without_secrets(&file)?;
    }
    Ok(())
}

/// `error`, naming the embedded store's file when the store failed and its
/// message does not name it already: SQLite says "database is locked" or
/// "database or disk is full" without saying which.
fn naming_the_store_file(error: anyhow::Error, options: &HostOptions) -> anyhow::Error {
    let file = options.data_dir.store_file();
    let store_failed = caused_by_the_store(&error, |cause| {
        cause.only_reads() || matches!(cause, StoreError::Backend(_) | StoreError::Full(_))
    });
    if !options.warehouse.is_embedded()
        || !store_failed
        || one_line(&error).contains(&*file.to_string_lossy())
    {
        return error;
    }
    error.context(format!("the store {}", file.display()))
}

/// Whether a store error `is` says so is among `error`'s causes.
fn caused_by_the_store(error: &anyhow::Error, is: impl Fn(&StoreError) -> bool) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<StoreError>().is_some_and(&is))
}

/// Whether `error` is the store refusing a write because it takes none.
pub fn refuses_writes(error: &anyhow::Error) -> bool {
    caused_by_the_store(error, |cause| matches!(cause, StoreError::ReadOnly(_)))
}

/// Whether `error` is the store failing a write it can read past: it takes
/// none here, or another process holds its write lock.
pub fn only_reads(error: &anyhow::Error) -> bool {
    caused_by_the_store(error, StoreError::only_reads)
}

/// An error and its causes on one line, as `{:#}` writes them, but each
/// once: a cause whose text its parent already ends with (a store error
/// quotes its backend's) is not repeated.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// The exit code for an error: 2 for a usage error, else 1.
pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    // What the machine ran out of is never the command line's mistake,
    // whatever the command was reading then (its `slate.toml`, a plugin).
    if ran_out(error).is_some() {
        return ExitCode::FAILURE;
    }
    let is_usage = error.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause.is::<dates::DateError>()
            || cause.is::<dates::DatesConfigError>()
            || cause.is::<slate::limits::LimitsConfigError>()
            || cause.is::<slate::alerts::AlertsConfigError>()
            || cause.is::<slate::schedule::SchedulesConfigError>()
            || cause.is::<slate::pipeline::SelectionError>()
            || matches!(
                cause.downcast_ref::<slate::store::StoreError>(),
                Some(slate::store::StoreError::Missing(_))
            )
            // The plugin folder the command line named holds a file that
            // is no processor, or one that cannot be read.
            || matches!(
                cause.downcast_ref::<slate::catalog::CatalogError>(),
                Some(
                    slate::catalog::CatalogError::DuplicateName { .. }
                        | slate::catalog::CatalogError::PluginFile { .. }
                        | slate::catalog::CatalogError::Io { .. }
                )
            )
            // A switch the versions as they stand refuse (no earlier
            // version, no shadow to promote), or naming no version: the
            // command line's, as an undeploy of nothing is.
            || cause
                .downcast_ref::<slate::deploy::DeployError>()
                .is_some_and(|refused| {
                    use slate::deploy::DeployCheck::{Hash, State, Version};
                    matches!(refused.check, State | Version | Hash)
                })
            || matches!(
                cause.downcast_ref::<slate::shadow::ShadowError>(),
                Some(
                    slate::shadow::ShadowError::UnknownProcessor(_)
                        | slate::shadow::ShadowError::NoShadow(_)
                )
            )
            // A range too long (or backwards) is the command line's.
            || matches!(
                cause.downcast_ref::<slate::backfill::BackfillError>(),
                Some(
                    slate::backfill::BackfillError::TooLong { .. }
                        | slate::backfill::BackfillError::EndBeforeStart { .. }
                        | slate::backfill::BackfillError::ZeroParallelism
                )
            )
    });
    if is_usage {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// What the machine ran out of (file descriptors, disk space or memory),
/// if an I/O error in `error`'s chain says so: what `main` adds as a note,
/// since the error alone may not say it plainly (a bare "Too many open
/// files"). An error passed on as text (a plugin's instantiation refused)
/// is read by the "(os error N)" it ends with.
pub fn ran_out(error: &anyhow::Error) -> Option<String> {
    if caused_by_the_store(error, |cause| matches!(cause, StoreError::Full(_))) {
        return Some("the disk under the store is full".to_string());
    }
    error.chain().find_map(|cause| {
        let code = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.raw_os_error()?,
            None => {
                let text = cause.to_string();
                let (_, number) = text.strip_suffix(')')?.rsplit_once("(os error ")?;
                number.parse().ok()?
            }
        };
        use rustix::io::Errno;
        match Errno::from_raw_os_error(code) {
            Errno::MFILE | Errno::NFILE => {
                let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
                let now = match limit.current {
                    Some(soft) => format!(" (`ulimit -n` is {soft})"),
                    None => String::new(),
                };
                Some(format!(
                    "the process ran out of file descriptors{now}: raise the limit"
                ))
            }
            Errno::NOSPC | Errno::DQUOT => Some("the disk is full".to_string()),
            Errno::NOMEM => Some(match slate::plugin::address_space_limit() {
                Some(limit) => format!(
                    "the process ran out of memory or address space (`ulimit -v` is {} KiB)",
                    limit >> 10
                ),
                None => "the machine ran out of memory".to_string(),
            }),
            _ => None,
        }
    })
}

/// `--from` and `--to`, each exactly `YYYY-MM-DD`, the first not after the
/// second.
fn parse_range(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate)> {
    let (from, to) = (parse_date(from)?, parse_date(to)?);
    if to < from {
        usage!("--to {to} is before --from {from}");
    }
    Ok((from, to))
}

/// A relative tolerance: a finite number, zero or more.
fn tolerance(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(format!(
            "expected a finite number, zero or more, not `{text}`"
        )),
    }
}

/// Parses exactly `YYYY-MM-DD`, naming the bad value.
fn parse_date(text: &str) -> Result<NaiveDate> {
    Ok(dates::parse(text)?)
}

/// The bounds of a flag given in seconds: a millisecond, the finest any of
/// the host's timers keeps, to 366 days. A lease or deadline past that
/// would outrun the clocks' range (a lease past the year 9999 was stored
/// as 1970, and a grace of 1e19 s overflowed at shutdown), and no wait
/// the host makes needs more.
const SECONDS: std::ops::RangeInclusive<f64> = 0.001..=366.0 * 86_400.0;

/// A flag's number of seconds as a duration, within [`SECONDS`]; clap
/// names the flag and the value as given when it is not.
fn seconds(text: &str) -> std::result::Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| "not a number of seconds".to_string())?;
    if !SECONDS.contains(&value) {
        return Err(format!(
            "must be from {} to {} seconds (366 days)",
            SECONDS.start(),
            SECONDS.end()
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

/// Lets a closed standard output end a command quietly, as it ends `ls` or
/// `grep`: `slate runs --json | head -1` stops at the first line instead of
/// panicking on the next print. Not for `slate serve`, which must outlive
/// a client that hangs up (sockets are written without the signal anyway).
fn end_quietly_when_stdout_closes() {
    #[cfg(target_os = "linux")]
    // SAFETY: called on the main thread before any other thread starts;
    // setting a signal's disposition to its default has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// What every command that runs processors needs to know.
pub struct HostOptions {
    /// The global options given on the command line, as words
    /// ([`globals_given`]).
    given: Vec<String>,
    data_dir: DataDir,
    warehouse: warehouse::WarehouseArgs,
    plugin_dir: Option<PathBuf>,
    fuel: bool,
    leases: LeaseConfig,
}

impl HostOptions {
    /// `slate` with the global options that chose this invocation's store
    /// and processors (`--data-dir`, `--plugin-dir`, `--state`, ...),
    /// from its command line or the environment, then `rest`: a command
    /// printed for the user to run next, which must act on the same ones.
    pub fn command_line(&self, rest: &str) -> String {
        command_line(&self.given, rest)
    }
}

/// `slate`, the words `given` quoted for a shell, then `rest`.
fn command_line(given: &[String], rest: &str) -> String {
    let words = std::iter::once("slate").chain(given.iter().map(String::as_str));
    let slate = shlex::try_join(words).unwrap_or_else(|_| {
        // A word holding a NUL byte, which no shell can take.
        format!("slate {}", given.join(" "))
    });
    format!("{slate} {rest}")
}

/// The global options of `matches` given on the command line, in the
/// order `slate --help` lists them, each as `--name` and its value. A
/// password in `--state` is replaced by `PASSWORD`: a printed command must
/// not show it. A relative path is made absolute, so that the command
/// works from another folder (a server's alert is read far from where the
/// server was started).
fn globals_given(matches: &clap::ArgMatches) -> Vec<String> {
    use clap::parser::ValueSource;
    let command = <Cli as clap::CommandFactory>::command();
    // The store's own options count given by the environment too (a
    // container's `SLATE_DATA_DIR`): the command is read, and pasted, where
    // that environment is not. The BigQuery ones only where BigQuery holds
    // the tables (`BIGQUERY_EMULATOR_HOST` may be set for other tools).
    let on_bigquery = matches
        .get_raw("warehouse")
        .into_iter()
        .flatten()
        .any(|warehouse| warehouse == "bigquery");
    let names_the_store = |id: &str| {
        matches!(id, "data_dir" | "plugin_dir" | "state" | "warehouse")
            || (on_bigquery && id.starts_with("bigquery_"))
    };
    let mut words = Vec::new();
    for arg in command.get_arguments().filter(|arg| arg.is_global_set()) {
        let id = arg.get_id().as_str();
        let given = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => true,
            Some(ValueSource::EnvVariable) => names_the_store(id),
            _ => false,
        };
        let (Some(long), true) = (arg.get_long(), given) else {
            continue;
        };
        words.push(format!("--{long}"));
        if !arg.get_action().takes_values() {
            continue;
        }
        for value in matches.get_raw(id).into_iter().flatten() {
            let value = value.to_string_lossy();
            words.push(match id {
                "state" => slate::store::postgres::without_password(&value, "PASSWORD"),
                "data_dir" | "plugin_dir" | "bigquery_key_file" => std::path::absolute(&*value)
                    .map_or(value.into_owned(), |path| path.display().to_string()),
                _ => value.into_owned(),
            });
        }
    }
    words
}

/// Opens the store the options select; `create` makes a missing one.
/// The alert channels of `slate.toml` are added to its outbox first, if
/// new, so that a channel is sent what is raised from the command that
/// first names it on, and of the store's history only the alerts open
/// then.
///
/// A store this user may only read is opened to be read: the commands that
/// read work, and the first write fails saying the store takes none.
fn open_store(options: &HostOptions, create: bool) -> Result<Arc<dyn Store>> {
    let config_file = options.data_dir.config_file();
    let alerts = slate::alerts::AlertsConfig::load_without_secrets(&config_file)?;
    // Found before the store is opened (on BigQuery, opening makes
    // datasets): found at delivery, it failed a command whose runs had
    // committed, exit 1.
    if !alerts.channels.is_empty() && !options.warehouse.keeps_alert_outbox() {
        usage!(
            "{}: alert channels are configured, but this store keeps no alert outbox (BigQuery \
             alone keeps none): keep run state in the embedded store or in PostgreSQL (--state)",
            config_file.display()
        );
    }
    let (store, takes_writes) = match options.warehouse.open(&options.data_dir, create) {
        Err(error) if !create && refuses_writes(&error) => {
            tracing::debug!("the store takes no writes here; opened to be read: {error:#}");
            (options.warehouse.open_to_read(&options.data_dir)?, false)
        }
        opened => (opened?, true),
    };
    // A `[dates]` that leaves no date to serve is a bad section, found
    // before the command does anything, as every other section is.
    refuse_dates_serving_none(
        store.as_ref(),
        &config_file,
        &DatesConfig::load(&config_file)?,
    )?;
    if takes_writes {
        add_alert_channels(store.as_ref(), &alerts)?;
    }
    Ok(store)
}

/// Refuses, as a usage error naming `file`, a `[dates]` whose one end
/// set there lies beyond the other end `store`'s schedule gives: a range
/// that holds no date. The schedule is read only when one end is set.
fn refuse_dates_serving_none(store: &dyn Store, file: &Path, dates: &DatesConfig) -> Result<()> {
    if !dates.sets_one_end() {
        return Ok(());
    }
    let calendar = slate::pipeline::default_calendar();
    if let Err(empty) = dates.holding_dates(dates::serving_range(store, &calendar, dates)?) {
        usage!("{}: {empty}", file.display());
    }
    Ok(())
}

/// Adds the channels of `alerts` new to `store`'s outbox, if it keeps one:
/// a channel is sent what is raised from when it is first named on.
fn add_alert_channels(store: &dyn Store, alerts: &slate::alerts::AlertsConfig) -> Result<()> {
    if let Some(outbox) = store.alert_outbox()
        && !alerts.channels.is_empty()
    {
        let names: Vec<&str> = alerts.channels.iter().map(|c| c.name.as_str()).collect();
        outbox.add_channels(&names)?;
    }
    Ok(())
}

/// The store, the processors loaded and ordered, and an executor.
struct Host {
    store: Arc<dyn Store>,
    pipeline: Pipeline,
    /// The processors the table owners refused, left out of `pipeline`,
    /// and the registry's generation it was loaded at: how a server
    /// starts ([`Host::open_with`]); `None` for the other commands.
    starting: Option<(i64, Vec<slate::catalog::LeftOut>)>,
    executor: Executor,
    /// Kept alive: dropping the runtime stops its epoch ticker, and with it
    /// the CPU and wall-clock limits.
    runtime: Arc<Runtime>,
    registry: Arc<Registry>,
    /// The `[dates]` section of `slate.toml`.
    dates: DatesConfig,
    /// The runs the lease keeper reaped since the start, whose phases
    /// [`Host::judge_phases_of_runs_reaped_meanwhile`] judges (a server
    /// judges each as it is reaped instead).
    reaped_meanwhile: Arc<std::sync::Mutex<Vec<slate::runs::RunRecord>>>,
}

/// The processors `options` load (bundled, deployed, plugin folder),
/// ordered, with their tables' owners checked against `store`, and their
/// shadow versions.
fn load_pipeline(
    options: &HostOptions,
    store: &dyn Store,
    runtime: &Runtime,
    registry: &Registry,
) -> Result<Pipeline> {
    let ledger = Ledger::new(store.table_owners()?, store.host_owned());
    let shadows = slate::catalog::load_shadows(runtime, registry)?;
    Ok(Pipeline::new(plugins::load_processors(
        runtime,
        Some(registry),
        options,
        &ledger,
    )?)?
    .with_shadows(shadows))
}

/// The store and the processors, opened to be read only: no run is
/// reaped, no alert channel added, and nothing is run.
fn open_to_read(options: &HostOptions) -> Result<(Arc<dyn Store>, Pipeline, Registry)> {
    let store = options.warehouse.open_to_read(&options.data_dir)?;
    let runtime = plugins::runtime(options)?;
    let registry = plugins::registry(options)?;
    let pipeline = load_pipeline(options, store.as_ref(), &runtime, &registry)?;
    Ok((store, pipeline, registry))
}

impl Host {
    /// `date`, if the pipeline serves it: within the schedule's seasons and
    /// their margin, or the range `slate.toml` sets.
    fn served(&self, date: NaiveDate) -> Result<NaiveDate> {
        let range =
            dates::serving_range(self.store.as_ref(), self.pipeline.calendar(), &self.dates)?;
        Ok(range.check(date)?)
    }

    /// Opens the host for a command that runs at most `concurrent_runs`
    /// processors at once (0: it runs none).
    fn open(options: &HostOptions, create: bool, concurrent_runs: usize) -> Result<Host> {
        Self::open_with(options, create, concurrent_runs, false)
    }

    /// [`Host::open`]; with `leave_out_refused`, the processors the table
    /// owners refuse are left out ([`Host::starting`]) rather than refused
    /// with the rest: how a server starts.
    fn open_with(
        options: &HostOptions,
        create: bool,
        concurrent_runs: usize,
        leave_out_refused: bool,
    ) -> Result<Host> {
        let store = open_store(options, create)?;
        let limits = LimitsConfig::load(&options.data_dir.config_file())?;
        let runtime = match concurrent_runs {
            0 => plugins::runtime(options)?,
            runs => plugins::pooled_runtime(options, runs, &limits)?,
        };
        let registry = plugins::registry(options)?;
        let (pipeline, starting) = if leave_out_refused {
            let set = slate::server::StartingSet::load(
                &runtime,
                &registry,
                options.plugin_dir.as_deref(),
                store.as_ref(),
            )?;
            (set.pipeline, Some((set.generation, set.left_out)))
        } else {
            let pipeline = load_pipeline(options, store.as_ref(), &runtime, &registry)?;
            (pipeline, None)
        };
        // A fuel limit is metered only with --fuel: without it, one set
        // would silently do nothing.
        let fuel_set = limits.defaults.fuel.is_some()
            || limits
                .processors
                .values()
                .any(|limits| limits.fuel.is_some());
        if fuel_set && !options.fuel {
            say!(
                "warning: {}: its `fuel` limits are not enforced without --fuel",
                options.data_dir.config_file().display()
            );
        }
        // A misspelt name would leave its processor on the defaults, unseen.
        for name in limits.processors.keys() {
            if pipeline.plugin(name).is_none() {
                say!(
                    "warning: {}: [limits.processors.{name}] names no processor this host \
                     has; its limits apply to none",
                    options.data_dir.config_file().display()
                );
            }
        }
        let executor = Executor::new(
            store.clone(),
            slate::liveness::this_host_id(),
            limits,
            options.leases,
        )?;
        // The runs the start reaped failed: their phases are incomplete.
        slate::alerts::phase::record_phase_events_of_reaped(
            store.as_ref(),
            &pipeline,
            executor.leases().reaped_at_start(),
        );
        // So are those the lease keeper reaps while the command runs.
        let reaped_meanwhile = Arc::new(std::sync::Mutex::new(Vec::new()));
        if !leave_out_refused {
            let reaped = reaped_meanwhile.clone();
            executor.leases().on_reaped(Arc::new(move |run| {
                reaped
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(run.clone());
            }));
        }
        // `open_store` refused a range that holds no date.
        let dates = DatesConfig::load(&options.data_dir.config_file())?;
        Ok(Host {
            dates,
            store,
            pipeline,
            starting,
            executor,
            runtime: Arc::new(runtime),
            registry: Arc::new(registry),
            reaped_meanwhile,
        })
    }

    /// Records the phase events of the runs the lease keeper reaped since
    /// the start (or the last call): each failed, so its phase is
    /// incomplete on its date.
    fn judge_phases_of_runs_reaped_meanwhile(&self) {
        let reaped = std::mem::take(
            &mut *self
                .reaped_meanwhile
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        slate::alerts::phase::record_phase_events_of_reaped(
            self.store.as_ref(),
            &self.pipeline,
            &reaped,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `slate.toml` that cannot be read for want of file descriptors is
    /// no mistake of the command line's: exit 1, saying what ran out.
    /// Before, it exited 2, which says nothing ran and the flags are wrong.
    #[test]
    fn a_file_unread_for_want_of_descriptors_exits_1_saying_so() {
        let unread: anyhow::Error = slate::alerts::AlertsConfigError::Read {
            path: "slate.toml".into(),
            source: std::io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error()),
        }
        .into();
        assert_eq!(exit_code(&unread), ExitCode::FAILURE);
        let said = ran_out(&unread).unwrap();
        assert!(
            said.contains("ran out of file descriptors (`ulimit -n` is"),
            "{said}"
        );

        let wrong: anyhow::Error = slate::alerts::AlertsConfigError::Read {
            path: "slate.toml".into(),
            source: std::io::Error::from_raw_os_error(rustix::io::Errno::ISDIR.raw_os_error()),
        }
        .into();
        assert_eq!(exit_code(&wrong), ExitCode::from(2));
        assert_eq!(ran_out(&wrong), None);

        let passed_on_as_text = anyhow::anyhow!(
            "loading bundled plugin p: cannot instantiate: Too many open files (os error 24)"
        );
        assert_eq!(exit_code(&passed_on_as_text), ExitCode::FAILURE);
        assert!(ran_out(&passed_on_as_text).is_some());
    }

    /// SQLite out of room (`SQLITE_FULL`, as on a full disk) is a store
    /// error of its own, which says so, and the binary's note says what
    /// ran out: SQLite's "database or disk is full" names neither.
    #[test]
    fn a_store_out_of_room_is_told_as_a_full_disk() {
        let sqlite = rusqlite::Connection::open_in_memory().unwrap();
        sqlite.pragma_update(None, "max_page_count", 1).unwrap();
        let refused = sqlite
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap_err();

        let error = StoreError::from(refused);
        assert!(matches!(error, StoreError::Full(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            "the store's disk is full: database or disk is full"
        );
        let failed = anyhow::Error::from(error).context("run PlayerGameSummaryProcessor");
        assert_eq!(
            ran_out(&failed).as_deref(),
            Some("the disk under the store is full")
        );
        assert_eq!(exit_code(&failed), ExitCode::FAILURE);
    }

    /// Every flag in seconds takes a millisecond to 366 days, and refuses
    /// (exit 2, naming the flag and the value as given) what a lease or
    /// deadline cannot reach: a grace of 1e19 s overflowed at shutdown,
    /// after the server had stopped waiting for its runs.
    #[test]
    fn a_flag_in_seconds_takes_a_millisecond_to_366_days() {
        let parse = |flag: &str, value: &str| {
            let args = ["slate", "serve", "--token", "t", &format!("{flag}={value}")];
            <Cli as clap::Parser>::try_parse_from(args)
        };
        let flags = [
            "--heartbeat-secs",
            "--lease-secs",
            "--max-runtime-secs",
            "--grace-secs",
            "--header-timeout-secs",
            "--body-timeout-secs",
            "--health-cache-secs",
        ];
        for flag in flags {
            for taken in ["0.001", "1", "31622400"] {
                assert!(parse(flag, taken).is_ok(), "{flag} {taken}");
            }
            for refused in ["1e19", "31622401", "0", "0.0009", "-1", "NaN", "inf", "x"] {
                let error = parse(flag, refused).map(|_| ()).unwrap_err();
                assert_eq!(error.exit_code(), 2, "{flag} {refused}");
                let said = error.to_string();
                assert!(
                    said.contains(&format!("'{refused}' for '{flag} <SECONDS>'")),
                    "{said}"
                );
            }
        }
    }

    #[test]
    fn a_printed_command_repeats_the_global_options_given_with_absolute_paths_and_no_password() {
        let matches = <Cli as clap::CommandFactory>::command().get_matches_from([
            "slate",
            "run",
            "--date",
            "2026-01-11",
            "--plugin-dir",
            "my plugins",
            "--data-dir",
            "d",
            "--state",
            "postgres://slate:secret@db:5432/slate",
            "--fuel",
        ]);
        let given = globals_given(&matches);
        let here = std::env::current_dir().unwrap();
        let absolute = |relative: &str| here.join(relative).display().to_string();
        assert_eq!(
            given,
            [
                "--data-dir",
                &absolute("d"),
                "--plugin-dir",
                &absolute("my plugins"),
                "--fuel",
                "--state",
                "postgres://slate:PASSWORD@db:5432/slate",
            ]
        );
        assert_eq!(
            command_line(&given, "runs --outdated"),
            format!(
                "slate --data-dir {} --plugin-dir '{}' --fuel --state \
                 postgres://slate:PASSWORD@db:5432/slate runs --outdated",
                absolute("d"),
                absolute("my plugins")
            )
        );
    }

    #[test]
    fn an_error_line_names_each_cause_once() {
        let backend = std::io::Error::other("attempt to write a readonly database");
        let error = anyhow::Error::new(slate::store::StoreError::backend(backend))
            .context("opening slate-data/slate.db");
        assert_eq!(
            one_line(&error),
            "opening slate-data/slate.db: store error: attempt to write a readonly database"
        );
        let chained = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(one_line(&chained), "outer: middle: inner");
    }
}
