//! The server's Prometheus metrics: runs by processor and status, run
//! durations, rows written, stale runs reaped, plugin instantiation time,
//! and the store's failures as it records runs (claims it refused, runs
//! given up). Runs are counted as the executor ends them
//! ([`RunObserver`]); reaps are read from the lease keeper when scraped.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::alerts::record::{ChannelHealth, ChannelState};
use crate::executor::RunObserver;
use crate::runs::RunRecord;
use crate::store::StoreError;

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    runs: IntCounterVec,
    run_duration: HistogramVec,
    rows_written: IntCounterVec,
    stale_reaped: IntCounter,
    instantiation: HistogramVec,
    alert_deliveries: IntCounterVec,
    alert_channel_up: IntGaugeVec,
    claims_refused: IntCounterVec,
    runs_given_up: IntCounterVec,
}

impl Metrics {
    /// Fresh metrics, all zero.
    pub fn new() -> Self {
        let registry = Registry::new();
        let runs = IntCounterVec::new(
            Opts::new(
                "slate_runs_total",
                "Runs ended, by processor and final status.",
            ),
            &["processor", "status"],
        )
        .expect("valid metric");
        let run_duration = HistogramVec::new(
            HistogramOpts::new(
                "slate_run_duration_seconds",
                "How long runs took, by processor.",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            &["processor"],
        )
        .expect("valid metric");
        let rows_written = IntCounterVec::new(
            Opts::new("slate_rows_written_total", "Rows committed, by processor."),
            &["processor"],
        )
        .expect("valid metric");
        let stale_reaped = IntCounter::new(
            "slate_stale_runs_reaped_total",
            "Stale runs this host reaped (failed with kind stale).",
        )
        .expect("valid metric");
        let instantiation = HistogramVec::new(
            HistogramOpts::new(
                "slate_plugin_instantiation_seconds",
                "Time to create a plugin's fresh instance for a run, by processor.",
            )
            .buckets(vec![
                0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
            ]),
            &["processor"],
        )
        .expect("valid metric");
        let alert_deliveries = IntCounterVec::new(
            Opts::new(
                "slate_alert_deliveries_total",
                "Alert posts attempted, by channel and outcome (delivered, retry, permanent).",
            ),
            &["channel", "outcome"],
        )
        .expect("valid metric");
        let alert_channel_up = IntGaugeVec::new(
            Opts::new(
                "slate_alert_channel_up",
                "1 while an alert channel delivers, 0 while it is failing or dead.",
            ),
            &["channel"],
        )
        .expect("valid metric");
        let claims_refused = IntCounterVec::new(
            Opts::new(
                "slate_claims_refused_total",
                "Runs not started because the store failed as it claimed them (full, \
                 unreachable), by processor; a claim another run holds is not counted.",
            ),
            &["processor"],
        )
        .expect("valid metric");
        let runs_given_up = IntCounterVec::new(
            Opts::new(
                "slate_runs_given_up_total",
                "Runs this host gave up because the store failed as it recorded them, by \
                 processor: the reaper ends each, with the store's error, once it answers.",
            ),
            &["processor"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(runs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(run_duration.clone()),
            Box::new(rows_written.clone()),
            Box::new(stale_reaped.clone()),
            Box::new(instantiation.clone()),
            Box::new(alert_deliveries.clone()),
            Box::new(alert_channel_up.clone()),
            Box::new(claims_refused.clone()),
            Box::new(runs_given_up.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Metrics {
            registry,
            runs,
            run_duration,
            rows_written,
            stale_reaped,
            instantiation,
            alert_deliveries,
            alert_channel_up,
            claims_refused,
            runs_given_up,
        }
    }

    /// Brings the alert metrics up to what the store recorded: attempts per
    /// (channel, outcome), and whether each configured channel is up. A
    /// channel no longer configured (a reload took it out) has no `up`
    /// gauge any more: its last 0 would keep an alert rule firing.
    pub fn observe_alerts(
        &self,
        configured: &[String],
        counts: &[(String, String, u64)],
        states: &[ChannelState],
    ) {
        for (channel, outcome, total) in counts {
            let counter = self.alert_deliveries.with_label_values(&[channel, outcome]);
            if *total > counter.get() {
                counter.inc_by(total - counter.get());
            }
        }
        use prometheus::core::Collector;
        let shown: Vec<String> = (self.alert_channel_up.collect().iter())
            .flat_map(|family| family.get_metric())
            .flat_map(|metric| metric.get_label())
            .map(|label| label.value().to_string())
            .collect();
        for gone in shown.iter().filter(|shown| !configured.contains(shown)) {
            let _ = self.alert_channel_up.remove_label_values(&[gone]);
        }
        for channel in configured {
            let up = states
                .iter()
                .find(|s| &s.channel == channel)
                .is_none_or(|s| s.health == ChannelHealth::Up);
            self.alert_channel_up
                .with_label_values(&[channel])
                .set(i64::from(up));
        }
    }

    /// The metrics in Prometheus text format; `reaped_total` is how many
    /// stale runs the host has reaped so far.
    pub fn render(&self, reaped_total: u64) -> String {
        let counted = self.stale_reaped.get();
        if reaped_total > counted {
            self.stale_reaped.inc_by(reaped_total - counted);
        }
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding never fails");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl RunObserver for Metrics {
    fn run_ended(&self, record: &RunRecord, instantiation: Option<Duration>) {
        let processor = record.processor.as_str();
        self.runs
            .with_label_values(&[processor, record.status.as_str()])
            .inc();
        if let Some(ms) = record.duration_ms {
            self.run_duration
                .with_label_values(&[processor])
                .observe(ms as f64 / 1000.0);
        }
        if record.rows_written > 0 {
            self.rows_written
                .with_label_values(&[processor])
                .inc_by(record.rows_written as u64);
        }
        if let Some(took) = instantiation {
            self.instantiation
                .with_label_values(&[processor])
                .observe(took.as_secs_f64());
        }
    }

    fn claim_refused(&self, processor: &str, _error: &StoreError) {
        self.claims_refused.with_label_values(&[processor]).inc();
    }

    fn run_given_up(&self, record: &RunRecord, _error: &StoreError) {
        self.runs_given_up
            .with_label_values(&[record.processor.as_str()])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_taken_out_of_the_configuration_has_no_up_gauge_any_more() {
        let metrics = Metrics::new();
        let configured = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        metrics.observe_alerts(&configured(&["ops", "old"]), &[], &[]);
        let text = metrics.render(0);
        assert!(
            text.contains("slate_alert_channel_up{channel=\"old\"} 1"),
            "{text}"
        );
        metrics.observe_alerts(&configured(&["ops"]), &[], &[]);
        let text = metrics.render(0);
        assert!(
            text.contains("slate_alert_channel_up{channel=\"ops\"} 1"),
            "{text}"
        );
        assert!(!text.contains("channel=\"old\""), "{text}");
    }
}
