//! What one run may consume, and how a breach is reported.
//!
//! Each limit has a host default; a processor may get its own values in the
//! `[limits.processors.<Name>]` table of `slate.toml` in the data directory.
//! A breach fails the run with its own kind (`limit_memory`, `limit_time`,
//! `limit_fuel`, `limit_output`, `limit_read`), and the limit and the
//! observed value go into the run record.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::runs::ErrorKind;

/// Per-run resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// The most linear memory an instance may grow to, in bytes.
    pub memory_bytes: u64,
    /// Time spent executing guest code before the run is interrupted.
    pub cpu_time: Duration,
    /// Time from instantiation before the run is interrupted, host calls included.
    pub wall_time: Duration,
    /// Fuel for the run; only enforced by a runtime created with fuel.
    pub fuel: Option<u64>,
    /// The most rows `process` may return.
    pub max_output_rows: u64,
    /// The most bytes (approximately, as stored) `process` may return.
    pub max_output_bytes: u64,
    /// The most rows the processor may read through `read-rows`.
    pub max_rows_read: u64,
    /// How many guest log lines a run may write; later lines are dropped
    /// and counted in the run record.
    pub max_log_lines: u64,
    /// How many bytes of guest log messages a run may write.
    pub max_log_bytes: u64,
    /// The longest guest log message kept; longer ones are cut.
    pub max_log_message_bytes: u64,
    /// Whether a guest's `error` lines log at error level. Off by default:
    /// a processor's own lines log at `warn` at most, so that its noise
    /// never reads as the host's errors.
    pub guest_log_errors: bool,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            memory_bytes: 256 << 20,
            cpu_time: Duration::from_secs(60),
            wall_time: Duration::from_secs(300),
            fuel: None,
            max_output_rows: 1_000_000,
            max_output_bytes: 512 << 20,
            max_rows_read: 10_000_000,
            max_log_lines: 10_000,
            max_log_bytes: 4 << 20,
            max_log_message_bytes: 4 << 10,
            guest_log_errors: false,
        }
    }
}

impl RunLimits {
    /// The limits of reading a processor's `info()`: it describes the
    /// processor and nothing more, so it gets a second of CPU and 64 MiB,
    /// whatever the processor's own runs may use.
    pub fn for_info() -> Self {
        RunLimits {
            memory_bytes: 64 << 20,
            cpu_time: Duration::from_secs(1),
            wall_time: Duration::from_secs(5),
            max_rows_read: 0,
            max_log_lines: 100,
            ..RunLimits::default()
        }
    }

    /// The most bytes wasmtime may copy out of the guest in one call (its
    /// "hostcall fuel"): enough for the largest output these limits allow
    /// once lifted into host values, so that Slate's own output limits, with
    /// their kind and values, are what stops an oversized output. A guest
    /// cannot make the host allocate much more than its own memory either
    /// way, since every lifted list must lie in its linear memory.
    pub fn hostcall_bytes(&self) -> usize {
        use crate::bindings::Value;
        let per_row = std::mem::size_of::<Vec<Value>>() as u64;
        let per_byte = std::mem::size_of::<Value>() as u64 + 1;
        let bytes = self
            .max_output_rows
            .saturating_mul(per_row)
            .saturating_add(self.max_output_bytes.saturating_mul(per_byte));
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }
}

/// A limit a run went past, with the limit and what was observed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitBreach {
    /// Linear memory would have grown past the cap.
    #[error("memory limit of {limit} bytes exceeded: the processor asked for {observed} bytes")]
    Memory {
        /// The cap, in bytes.
        limit: u64,
        /// The size it asked to grow to.
        observed: u64,
    },
    /// Guest code ran for longer than its CPU time.
    #[error("CPU time limit of {limit} ms exceeded after {observed} ms")]
    CpuTime {
        /// The limit, in milliseconds.
        limit: u64,
        /// Time spent, in milliseconds.
        observed: u64,
    },
    /// The run lasted longer than its wall-clock timeout.
    #[error("wall-clock limit of {limit} ms exceeded after {observed} ms")]
    WallTime {
        /// The limit, in milliseconds.
        limit: u64,
        /// Time since instantiation, in milliseconds.
        observed: u64,
    },
    /// The guest asked to wait (sleep, or poll a clock) until past its
    /// wall-clock limit: stopped when it asked, not after waiting.
    #[error(
        "wall-clock limit of {limit} ms: the processor asked to wait until {until} ms into \
         the run, and was stopped when it asked"
    )]
    WaitPastLimit {
        /// The limit, in milliseconds.
        limit: u64,
        /// When its wait would have ended, in milliseconds since instantiation.
        until: u64,
    },
    /// The run ran out of fuel.
    #[error("fuel limit of {limit} exhausted")]
    Fuel {
        /// The fuel it had.
        limit: u64,
    },
    /// `process` returned too many rows.
    #[error("output limit of {limit} rows exceeded: the processor returned {observed} rows")]
    OutputRows {
        /// The most rows allowed.
        limit: u64,
        /// Rows returned.
        observed: u64,
    },
    /// `process` returned too many bytes.
    #[error(
        "output limit of {limit} bytes exceeded: the processor returned about {observed} bytes"
    )]
    OutputBytes {
        /// The most bytes allowed.
        limit: u64,
        /// Bytes returned, approximately.
        observed: u64,
    },
    /// A read would have taken the rows read past the limit; the host
    /// refused it, and the run fails with it whatever the processor did.
    #[error(
        "read limit of {limit} rows exceeded: reading {rows} rows of {table} would make \
         {observed} rows read"
    )]
    RowsRead {
        /// The most rows a run may read.
        limit: u64,
        /// The rows read with the refused read.
        observed: u64,
        /// The refused read's rows.
        rows: u64,
        /// The table it read.
        table: String,
    },
    /// The guest tried to hand the host more data in one call than the
    /// output limits allow, so it was stopped before the host took it.
    #[error(
        "output limit exceeded: the processor tried to pass more than {limit} bytes to the \
         host in one call (the bound that max_output_rows and max_output_mib set)"
    )]
    OutputTransfer {
        /// The most bytes one call may pass.
        limit: u64,
    },
}

impl LimitBreach {
    /// The run's error kind for this breach.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LimitBreach::Memory { .. } => ErrorKind::LimitMemory,
            LimitBreach::CpuTime { .. }
            | LimitBreach::WallTime { .. }
            | LimitBreach::WaitPastLimit { .. } => ErrorKind::LimitTime,
            LimitBreach::Fuel { .. } => ErrorKind::LimitFuel,
            LimitBreach::OutputRows { .. }
            | LimitBreach::OutputBytes { .. }
            | LimitBreach::OutputTransfer { .. } => ErrorKind::LimitOutput,
            LimitBreach::RowsRead { .. } => ErrorKind::LimitRead,
        }
    }

    /// The limit and the observed value, for the run record.
    pub fn values(&self) -> (u64, u64) {
        match *self {
            LimitBreach::Memory { limit, observed }
            | LimitBreach::CpuTime { limit, observed }
            | LimitBreach::WallTime { limit, observed }
            | LimitBreach::OutputRows { limit, observed }
            | LimitBreach::OutputBytes { limit, observed }
            | LimitBreach::RowsRead {
                limit, observed, ..
            } => (limit, observed),
            LimitBreach::WaitPastLimit { limit, until } => (limit, until),
            LimitBreach::Fuel { limit } | LimitBreach::OutputTransfer { limit } => (limit, limit),
        }
    }
}

/// Overrides of some limits, as written in `slate.toml`. Sizes in MiB, times
/// in seconds. A value out of its range (a time that is not a positive
/// number of seconds up to a week, a memory past the 4 GiB a `wasm32`
/// memory can hold, a size whose bytes do not fit 64 bits) is refused
/// where it is read, naming its key: it would otherwise wrap around to a
/// tiny limit, or stop the host.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Linear memory cap, MiB.
    #[serde(default, deserialize_with = "memory_mib")]
    pub memory_mib: Option<u64>,
    /// CPU time, seconds.
    #[serde(default, deserialize_with = "cpu_secs")]
    pub cpu_secs: Option<f64>,
    /// Wall-clock timeout, seconds.
    #[serde(default, deserialize_with = "wall_secs")]
    pub wall_secs: Option<f64>,
    /// Fuel.
    #[serde(default, deserialize_with = "fuel")]
    pub fuel: Option<u64>,
    /// Most output rows.
    #[serde(default, deserialize_with = "max_output_rows")]
    pub max_output_rows: Option<u64>,
    /// Most output bytes, MiB.
    #[serde(default, deserialize_with = "max_output_mib")]
    pub max_output_mib: Option<u64>,
    /// Most rows read through the host.
    #[serde(default, deserialize_with = "max_rows_read")]
    pub max_rows_read: Option<u64>,
    /// Most guest log lines per run.
    pub max_log_lines: Option<u64>,
    /// Most guest log bytes per run, KiB.
    #[serde(default, deserialize_with = "max_log_kib")]
    pub max_log_kib: Option<u64>,
    /// Longest guest log message, bytes.
    pub max_log_message_bytes: Option<u64>,
    /// Let guest `error` lines log at error level.
    pub guest_log_errors: Option<bool>,
}

impl LimitOverrides {
    /// `base` with these overrides applied.
    pub fn apply(&self, base: RunLimits) -> RunLimits {
        let secs = |s: f64| Duration::from_secs_f64(s.max(0.001));
        RunLimits {
            memory_bytes: self.memory_mib.map_or(base.memory_bytes, |m| m << 20),
            cpu_time: self.cpu_secs.map_or(base.cpu_time, secs),
            wall_time: self.wall_secs.map_or(base.wall_time, secs),
            fuel: self.fuel.or(base.fuel),
            max_output_rows: self.max_output_rows.unwrap_or(base.max_output_rows),
            max_output_bytes: self
                .max_output_mib
                .map_or(base.max_output_bytes, |m| m << 20),
            max_rows_read: self.max_rows_read.unwrap_or(base.max_rows_read),
            max_log_lines: self.max_log_lines.unwrap_or(base.max_log_lines),
            max_log_bytes: self.max_log_kib.map_or(base.max_log_bytes, |k| k << 10),
            max_log_message_bytes: self
                .max_log_message_bytes
                .unwrap_or(base.max_log_message_bytes),
            guest_log_errors: self.guest_log_errors.unwrap_or(base.guest_log_errors),
        }
    }
}

/// The longest CPU or wall-clock limit a run may have: a week.
const MAX_SECS: f64 = 7.0 * 24.0 * 3600.0;

fn cpu_secs<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<f64>, D::Error> {
    seconds(from, "cpu_secs")
}

fn wall_secs<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<f64>, D::Error> {
    seconds(from, "wall_secs")
}

fn memory_mib<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<u64>, D::Error> {
    let unit = "MiB (a wasm32 memory holds at most 4 GiB)";
    within(from, "memory_mib", 1..=4096, unit)
}

// A limit of 0 on what a run does at all (burn fuel, write, read) fails
// every run that does it: written meaning "no limit", it would stop the
// pipeline. Refused, naming the key; leaving the key out keeps the default.

fn fuel<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<u64>, D::Error> {
    within(
        from,
        "fuel",
        1..=u64::MAX,
        "units (leave it out for no fuel limit)",
    )
}

fn max_output_rows<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<u64>, D::Error> {
    within(from, "max_output_rows", 1..=u64::MAX, "rows")
}

fn max_output_mib<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<u64>, D::Error> {
    within(from, "max_output_mib", 1..=u64::MAX >> 20, "MiB")
}

fn max_rows_read<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<u64>, D::Error> {
    within(from, "max_rows_read", 1..=u64::MAX, "rows")
}

fn max_log_kib<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<u64>, D::Error> {
    within(from, "max_log_kib", 0..=u64::MAX >> 10, "KiB")
}

/// A number of seconds from a millisecond to [`MAX_SECS`], for `key`.
fn seconds<'de, D: serde::Deserializer<'de>>(from: D, key: &str) -> Result<Option<f64>, D::Error> {
    let secs = f64::deserialize(from)?;
    if (0.001..=MAX_SECS).contains(&secs) {
        return Ok(Some(secs));
    }
    Err(serde::de::Error::custom(format!(
        "{key} = {secs}: not a number of seconds from 0.001 to {MAX_SECS} (a week)"
    )))
}

/// A whole number within `range`, in `unit`, for `key`.
fn within<'de, D: serde::Deserializer<'de>>(
    from: D,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
    unit: &str,
) -> Result<Option<u64>, D::Error> {
    let value = u64::deserialize(from)?;
    if range.contains(&value) {
        return Ok(Some(value));
    }
    Err(serde::de::Error::custom(format!(
        "{key} = {value}: not from {} to {} {unit}",
        range.start(),
        range.end()
    )))
}

/// Why `slate.toml` gave no limits.
pub type LimitsConfigError = crate::config_file::ConfigFileError<LimitsParseError>;

/// What is wrong with the `[limits]` of a `slate.toml`.
#[derive(Debug, thiserror::Error)]
pub enum LimitsParseError {
    /// As TOML reports it, with the line, the column and the key.
    #[error(transparent)]
    Toml(#[from] crate::config_file::TomlError),
    /// A host-wide key directly under `[limits]`, named with its line: TOML
    /// reports the whole section for these, which it reads with the
    /// per-processor ones.
    #[error("line {line}: [limits] {key}: {message}")]
    Key {
        /// The line of the key, from 1.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Host defaults and per-processor overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitsConfig {
    /// The host's defaults.
    pub defaults: RunLimits,
    /// Overrides by processor name.
    pub processors: BTreeMap<String, LimitOverrides>,
}

impl From<RunLimits> for LimitsConfig {
    fn from(defaults: RunLimits) -> Self {
        LimitsConfig {
            defaults,
            processors: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    limits: Option<LimitsSection>,
    /// Read by [`crate::dates::DatesConfig`].
    #[serde(default, rename = "dates")]
    _dates: Option<toml::Value>,
    /// Read by [`crate::alerts::AlertsConfig`].
    #[serde(default, rename = "alerts")]
    _alerts: Option<toml::Value>,
    /// Read by [`crate::schedule`].
    #[serde(default, rename = "schedule")]
    _schedule: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    #[serde(flatten)]
    defaults: LimitOverrides,
    #[serde(default)]
    processors: BTreeMap<String, LimitOverrides>,
}

impl LimitsConfig {
    /// The largest memory cap any processor has: what a pooled memory slot
    /// must be able to hold.
    pub fn largest_memory_bytes(&self) -> u64 {
        self.processors
            .values()
            .map(|o| o.apply(self.defaults).memory_bytes)
            .fold(self.defaults.memory_bytes, u64::max)
    }

    /// The limits for one processor.
    pub fn for_processor(&self, name: &str) -> RunLimits {
        self.processors
            .get(name)
            .map_or(self.defaults, |o| o.apply(self.defaults))
    }

    /// Reads the `[limits]` section of a `slate.toml`; a missing file gives
    /// the defaults. An unknown key or a bad value is an error naming it.
    pub fn load(path: &Path) -> Result<Self, LimitsConfigError> {
        crate::config_file::load(path, LimitsConfig::default, Self::parse)
    }

    /// Parses the text of a `slate.toml`; the error names the line and the key.
    pub fn parse(text: &str) -> Result<Self, LimitsParseError> {
        let file: ConfigFile = toml::from_str(text).map_err(|error| {
            host_wide_key_problem(text, &error).unwrap_or_else(|| {
                LimitsParseError::Toml(crate::config_file::TomlError::new(text, &error))
            })
        })?;
        let Some(limits) = file.limits else {
            return Ok(LimitsConfig::default());
        };
        Ok(LimitsConfig {
            defaults: limits.defaults.apply(RunLimits::default()),
            processors: limits.processors,
        })
    }
}

/// For `error`, which TOML placed on the whole `[limits]` header: the
/// host-wide key directly under it that is unknown or holds a bad value,
/// with its line. Each key is read alone as the overrides it would set;
/// a value TOML's own table cannot hold (an integer past 64 bits) is
/// found by the key its message begins with (`cpu_secs = ...`).
fn host_wide_key_problem(text: &str, error: &toml::de::Error) -> Option<LimitsParseError> {
    let on_the_header = error
        .span()
        .and_then(|span| text.get(span))
        .is_some_and(|header| header.trim() == "[limits]");
    if !on_the_header {
        return None;
    }
    let read_alone = || {
        let file: toml::Table = toml::from_str(text).ok()?;
        let limits = file.get("limits")?.as_table()?;
        limits
            .iter()
            .filter(|(key, _)| key.as_str() != "processors")
            .find_map(|(key, value)| {
                let alone = toml::Table::from_iter([(key.clone(), value.clone())]);
                let read: Result<LimitOverrides, _> = toml::Value::Table(alone).try_into();
                read.err()
                    .map(|error| (key.clone(), error.message().trim().to_string()))
            })
    };
    let named_by_message = || {
        let message = error.message().trim();
        let (key, _) = message.split_once(" = ")?;
        (!key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .then(|| (key.to_string(), message.to_string()))
    };
    let (key, message) = read_alone().or_else(named_by_message)?;
    // Its line: the first after `[limits]` that sets it, spelt bare, quoted
    // either way, or dotted (`fuel.x = 5`); else the header's.
    let spellings = [key.clone(), format!("\"{key}\""), format!("'{key}'")];
    let (mut in_limits, mut header) = (false, 0);
    let line = text.lines().enumerate().position(|(at, line)| {
        let line = line.trim();
        if line.starts_with('[') {
            in_limits = line.trim_start_matches('[').trim_end_matches(']').trim() == "limits";
            header = if in_limits { at } else { header };
            return false;
        }
        in_limits
            && spellings.iter().any(|spelled| {
                line.strip_prefix(spelled.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
            })
    });
    Some(LimitsParseError::Key {
        line: line.unwrap_or(header) + 1,
        key,
        message: crate::config_file::without_quoted_texts(&message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_memory_cap_is_the_default_or_a_processors_if_larger() {
        let defaults = LimitsConfig::default();
        assert_eq!(
            defaults.largest_memory_bytes(),
            RunLimits::default().memory_bytes
        );
        let config = LimitsConfig::parse(
            "[limits]\nmemory_mib = 128\n[limits.processors.Big]\nmemory_mib = 2048\n",
        )
        .unwrap();
        assert_eq!(config.largest_memory_bytes(), 2048 << 20);
    }

    #[test]
    fn a_processor_override_applies_over_the_host_defaults() {
        let config = LimitsConfig::parse(
            "[limits]\nmemory_mib = 128\n[limits.processors.Big]\nmemory_mib = 512\ncpu_secs = 5\n",
        )
        .unwrap();
        assert_eq!(config.for_processor("Other").memory_bytes, 128 << 20);
        let big = config.for_processor("Big");
        assert_eq!(
            (big.memory_bytes, big.cpu_time),
            (512 << 20, Duration::from_secs(5))
        );
        assert_eq!(big.max_output_rows, RunLimits::default().max_output_rows);
    }

    #[test]
    fn a_limit_out_of_its_range_is_an_error_naming_it_and_its_value() {
        for (text, named) in [
            (
                "cpu_secs = 18446744073709551615",
                "cpu_secs = 1844674407370955",
            ),
            (
                "cpu_secs = 9223372036854775807",
                "cpu_secs = 922337203685477",
            ),
            ("wall_secs = 0", "wall_secs = 0: not a number of seconds"),
            ("wall_secs = -1.5", "wall_secs = -1.5: not"),
            ("cpu_secs = nan", "cpu_secs = NaN: not"),
            ("memory_mib = 0", "memory_mib = 0: not from 1 to 4096"),
            ("memory_mib = 99999999999999", "at most 4 GiB"),
            ("max_output_mib = 18446744073709551615", "max_output_mib = "),
            ("max_log_kib = 18446744073709551615", "max_log_kib = "),
            // 0 would fail every run that writes, reads or runs at all:
            // written meaning "no limit", it would stop the pipeline.
            ("max_output_mib = 0", "max_output_mib = 0: not from 1 to"),
            ("max_output_rows = 0", "max_output_rows = 0: not from 1 to"),
            ("max_rows_read = 0", "max_rows_read = 0: not from 1 to"),
            ("fuel = 0", "fuel = 0: not from 1 to"),
        ] {
            // A host-wide key is named with its line; a processor's, by TOML.
            let text = format!("[limits]\n{text}\n");
            let error = LimitsConfig::parse(&text).unwrap_err();
            assert!(
                matches!(&error, LimitsParseError::Key { line: 2, message, .. } if message.contains(named)),
                "{text}: {error:?}"
            );
            let text = text.replace("[limits]", "[limits.processors.Big]");
            let LimitsParseError::Toml(error) = LimitsConfig::parse(&text).unwrap_err() else {
                panic!("{text}: not a TOML error");
            };
            assert!(error.message().contains(named), "{text}: {error}");
            assert!(error.span().is_some(), "a place in the text: {error}");
        }
        let config =
            LimitsConfig::parse("[limits]\ncpu_secs = 604800\nmemory_mib = 4096\n").unwrap();
        assert_eq!(config.defaults.cpu_time, Duration::from_secs(604_800));
    }

    #[test]
    fn an_unknown_limit_is_an_error_naming_it_its_line_and_the_known_ones() {
        let text = "# host-wide\n[limits]\ncpu_secs = 5\n\nmemory_gb = 1\n\
                    [limits.processors.Big]\nmemory_mib = 512\n";
        let error = LimitsConfig::parse(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 5: [limits] memory_gb: unknown field `memory_gb`, expected one of \
             `memory_mib`, `cpu_secs`, `wall_secs`, `fuel`, `max_output_rows`, \
             `max_output_mib`, `max_rows_read`, `max_log_lines`, `max_log_kib`, \
             `max_log_message_bytes`, `guest_log_errors`"
        );
        for (text, line) in [
            ("[limits]\n\"fuell\" = 5\n", 2),
            ("[limits]\n\n'fuell' = 5\n", 3),
            ("[limits]\nfuell.x = 5\n", 2),
        ] {
            let error = LimitsConfig::parse(text).unwrap_err();
            assert!(
                matches!(&error, LimitsParseError::Key { line: at, key, .. } if *at == line && key == "fuell"),
                "{text}: {error:?}"
            );
        }
        let text = "[limits.processors.Big]\nmemory_gb = 1\n";
        let LimitsParseError::Toml(error) = LimitsConfig::parse(text).unwrap_err() else {
            panic!("not a TOML error");
        };
        assert!(error.message().contains("memory_gb"), "{error}");
        let span = error.span().expect("a place in the text");
        assert_eq!(&text[span], "memory_gb");
    }

    #[test]
    fn a_bad_file_is_an_error_naming_the_file_with_the_toml_error_as_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slate.toml");
        assert_eq!(LimitsConfig::load(&path).unwrap(), LimitsConfig::default());
        std::fs::write(&path, "[limits]\nmemory_mib = \"lots\"\n").unwrap();
        let error = LimitsConfig::load(&path).unwrap_err();
        let LimitsConfigError::Invalid {
            path: named,
            source,
        } = &error
        else {
            panic!("not an invalid file: {error:?}");
        };
        assert_eq!(named, &path);
        assert_eq!(
            source.to_string(),
            "line 2: [limits] memory_mib: invalid type: a string (not repeated), expected u64"
        );
        assert_eq!(error.to_string(), path.display().to_string());
        // A directory where the file should be cannot be read.
        let error = LimitsConfig::load(dir.path()).unwrap_err();
        assert!(
            matches!(&error, LimitsConfigError::Read { path, .. } if path == dir.path()),
            "{error:?}"
        );
    }

    #[test]
    fn each_breach_has_its_own_kind_and_values() {
        let memory = LimitBreach::Memory {
            limit: 10,
            observed: 20,
        };
        assert_eq!(
            (memory.kind(), memory.values()),
            (ErrorKind::LimitMemory, (10, 20))
        );
        assert_eq!(LimitBreach::Fuel { limit: 5 }.kind(), ErrorKind::LimitFuel);
        assert_eq!(
            LimitBreach::OutputRows {
                limit: 1,
                observed: 2
            }
            .kind(),
            ErrorKind::LimitOutput
        );
    }
}
