//! Command-line parsing and dispatch. Each command lives in its own module;
//! errors go back to `main` as `anyhow` errors and print on one line.

mod demo;
mod render;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use slate::bundled::PLUGINS;
use slate::data_dir::{DEFAULT_DATA_DIR, DataDir};
use slate::executor::Executor;
use slate::pipeline::Pipeline;
use slate::plugin::{RunLimits, Runtime};
use slate::store::{EmbeddedStore, Store};

/// Runs analytics and precompute processors as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "slate", version)]
struct Cli {
    /// Where the store and the compiled-component cache live.
    #[arg(long, global = true, env = "SLATE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs processors for one date, in dependency order.
    Run {
        /// The analysis date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Only these processors (comma-separated); all when omitted.
        #[arg(long, value_delimiter = ',')]
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
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: usize,
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
    },
}

/// Logs go to stderr; `RUST_LOG` sets the level (default `warn`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Parses and runs the command line.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    let data_dir = DataDir::new(&cli.data_dir);
    match cli.command {
        Command::Run { date, processors } => run::run(&data_dir, parse_date(&date)?, &processors),
        Command::Runs {
            date,
            processor,
            limit,
        } => {
            let date = date.as_deref().map(parse_date).transpose()?;
            run::runs(&data_dir, date, processor, limit)
        }
        Command::Demo { from, to } => {
            let from = from.as_deref().map(parse_date).transpose()?;
            let to = to.as_deref().map(parse_date).transpose()?;
            demo::demo(&data_dir, from, to)
        }
    }
}

/// Parses `YYYY-MM-DD`, naming the bad value.
fn parse_date(text: &str) -> Result<NaiveDate> {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Ok(date),
        Err(_) => bail!("invalid date `{text}`: expected a real calendar date as YYYY-MM-DD"),
    }
}

/// A host id unique to this process: `hostname:pid`.
fn host_id() -> String {
    let hostname = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{hostname}:{}", std::process::id())
}

/// The store, the bundled plugins loaded and ordered, and an executor.
struct Host {
    store: Arc<EmbeddedStore>,
    pipeline: Pipeline,
    executor: Executor,
}

impl Host {
    fn open(data_dir: &DataDir, create: bool) -> Result<Host> {
        let file = data_dir.store_file();
        let store = Arc::new(if create {
            EmbeddedStore::open(&file)?
        } else {
            EmbeddedStore::open_existing(&file)?
        });
        let runtime = Runtime::new(Some(&data_dir.compiled_dir()))?;
        let plugins = PLUGINS
            .iter()
            .map(|bundled| {
                runtime
                    .load(bundled.bytes)
                    .with_context(|| format!("loading bundled plugin {}", bundled.package))
            })
            .collect::<Result<Vec<_>>>()?;
        let pipeline = Pipeline::new(plugins)?;
        let executor = Executor::new(
            store.clone() as Arc<dyn Store>,
            host_id(),
            RunLimits::default(),
        );
        Ok(Host {
            store,
            pipeline,
            executor,
        })
    }
}
