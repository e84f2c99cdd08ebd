//! The figures: printed as a table, written as JSON with the machine noted.

use std::path::Path;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

/// One figure.
#[derive(Debug, Serialize)]
pub struct Figure {
    /// Which measurement group.
    pub group: &'static str,
    /// What was measured.
    pub name: String,
    /// The value, or `None` when skipped or when a check failed.
    pub value: Option<f64>,
    /// Its unit.
    pub unit: &'static str,
    /// What it means, or why it was skipped.
    pub note: String,
}

/// All figures of one run, and the machine they came from.
#[derive(Debug, Serialize)]
pub struct Report {
    smoke: bool,
    machine: Machine,
    figures: Vec<Figure>,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    memory_gib: f64,
    profile: &'static str,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        memory_gib: (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        profile: if cfg!(debug_assertions) {
            "dev (host unoptimised)"
        } else {
            "release"
        },
    }
}

impl Report {
    /// An empty report for this machine.
    pub fn new(smoke: bool) -> Self {
        Report {
            smoke,
            machine: machine(),
            figures: Vec::new(),
        }
    }

    /// Records a figure.
    pub fn add(
        &mut self,
        group: &'static str,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        note: impl Into<String>,
    ) {
        self.figures.push(Figure {
            group,
            name: name.into(),
            value: Some(value),
            unit,
            note: note.into(),
        });
    }

    /// Records a measurement that could not run here, and why.
    pub fn skip(&mut self, name: &str, why: &str) {
        self.figures.push(Figure {
            group: "skipped",
            name: name.into(),
            value: None,
            unit: "",
            note: why.into(),
        });
    }

    /// Records a check that failed, and how.
    pub fn fail(&mut self, group: &'static str, name: impl Into<String>, how: impl Into<String>) {
        self.figures.push(Figure {
            group,
            name: name.into(),
            value: None,
            unit: "",
            note: how.into(),
        });
    }

    /// Prints the table.
    pub fn print(&self) {
        let m = &self.machine;
        println!(
            "{} CPUs ({}), {} GiB, {} build{}",
            m.cpus,
            m.cpu_model,
            m.memory_gib,
            m.profile,
            if self.smoke { ", smoke run" } else { "" }
        );
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
            "group",
            "measurement",
            "value",
            "unit",
            "note",
        ]);
        for f in &self.figures {
            let value = f.value.map_or("-".to_string(), |v| {
                if v >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            });
            table.add_row(vec![
                f.group.to_string(),
                f.name.clone(),
                value,
                f.unit.to_string(),
                f.note.clone(),
            ]);
        }
        println!("{table}");
    }

    /// Writes the report as JSON.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }
}
