//! `slate-bench`: measures what a fresh sandbox per processor per date
//! costs, and prints a table plus the same figures as JSON.
//!
//! 1. Per-run host overhead of a no-op processor, with and without
//!    `InstancePre` and the pooling allocator ([`overhead`]).
//! 2. Rows per second across the component boundary, typed against JSON
//!    text ([`boundary`]).
//! 3. `PlayerCompositeFactorsProcessor` as WASM against the same code
//!    compiled natively ([`native`]).
//! 4. A full-season backfill on the embedded store ([`backfill`]).
//! 5. A load of 10k rows into a running BigQuery emulator ([`bigquery`]).
//!
//! Every figure is a median over repeated runs. `--smoke` runs each
//! measurement briefly, to keep the benchmark working in CI.

mod backfill;
mod bigquery;
mod boundary;
mod convert;
mod native;
mod overhead;
mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;

/// Paths of the benchmark components built from `bench/components/`.
pub mod components {
    include!(concat!(env!("OUT_DIR"), "/bench_components.rs"));
}

/// Slate's benchmarks.
#[derive(Parser)]
struct Args {
    /// Small sizes and few repetitions: checks that every measurement runs.
    #[arg(long)]
    smoke: bool,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "target/bench-results.json")]
    json: PathBuf,
}

/// How hard to measure.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    /// Repetitions of a fast measurement.
    pub repeats: usize,
    /// Row counts for the boundary measurements.
    pub row_counts: &'static [usize],
    /// Game dates to backfill (`None` for the whole season).
    pub backfill_dates: Option<usize>,
}

/// The median of some timings.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times `f` `repeats` times and returns the median.
pub fn time(repeats: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..repeats.max(1))
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let effort = if args.smoke {
        Effort {
            repeats: 3,
            row_counts: &[100, 1_000],
            backfill_dates: Some(3),
        }
    } else {
        Effort {
            repeats: 200,
            row_counts: &[1_000, 10_000, 100_000],
            backfill_dates: None,
        }
    };
    let mut report = report::Report::new(args.smoke);
    // The backfill runs first, so the process's peak memory is its own.
    let season_store = backfill::measure(&mut report, effort)?;
    overhead::measure(&mut report, effort)?;
    boundary::measure(&mut report, effort)?;
    native::measure(&mut report, effort, &season_store)?;
    bigquery::measure(&mut report, effort)?;
    report.print();
    report.write_json(&args.json)?;
    println!("figures written to {}", args.json.display());
    Ok(())
}
