//! What a channel is sent: Slack's `text` plus blocks, or the versioned
//! webhook JSON. Pure functions of the outbox messages.
//!
//! The webhook payload, version 1:
//!
//! ```json
//! {"version": 1, "event": "run_failed", "transition": "opened", "severity": "error",
//!  "alert": {"id": 7, "subject": "PlayerGameSummaryProcessor", "data_date": "2026-01-06",
//!            "kind": "plugin", "state": "open", "occurrences": 1,
//!            "first_at": "...", "last_at": "...", "summary": "..."},
//!  "run": {"run_id": "...", "processor": "...", "data_date": "...", "attempt": 1,
//!          "host_id": "...", "status": "failed", "error_kind": "plugin", "error": "..."}}
//! ```
//!
//! `run` is `null` for events that are not a run's. A backlog goes as one
//! `{"version": 1, "event": "digest", "count": N, "messages": [...]}`, each
//! message shaped as above without `version`. `slate alerts test` sends
//! `"event": "test"` and the canary `"event": "canary"`; a receiver may
//! ignore both.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::config::ChannelKind;
use super::event::{EventKind, NewAlert};
use super::record::{OutboxMessage, Transition};

/// The payload format's version.
pub const PAYLOAD_VERSION: u32 = 1;

/// How many alerts a digest lists in full; the rest are counted.
pub const DIGEST_LISTED: usize = 20;

/// One message as the webhook payload describes it, without `version`.
/// `message_id` is the outbox's id of the message, the same on every post
/// of it: a receiver that got a post cut short and then its repost tells
/// them apart by it.
fn webhook_message(message: &OutboxMessage) -> Value {
    let alert = &message.alert;
    let run = alert
        .raised
        .detail
        .get("run_id")
        .is_some()
        .then_some(&alert.raised.detail);
    json!({
        "message_id": message.message_id,
        "event": alert.raised.event,
        "transition": message.transition,
        "severity": alert.raised.severity,
        "alert": {
            "id": alert.alert_id,
            "subject": alert.raised.subject,
            "data_date": alert.raised.data_date,
            "kind": alert.raised.kind,
            "state": alert.state,
            "occurrences": alert.occurrences,
            "first_at": alert.first_at,
            "last_at": alert.last_at,
            "summary": alert.raised.summary,
        },
        "run": run,
        "detail": alert.raised.detail,
    })
}

/// The payload for `messages` on a channel of `kind`: one message as
/// itself, several as a digest.
pub fn render(kind: ChannelKind, messages: &[OutboxMessage]) -> Value {
    match (kind, messages) {
        (ChannelKind::Webhook, [one]) => {
            let mut payload = webhook_message(one);
            payload["version"] = json!(PAYLOAD_VERSION);
            payload
        }
        (ChannelKind::Webhook, many) => json!({
            "version": PAYLOAD_VERSION,
            "event": "digest",
            "count": many.len(),
            "messages": many.iter().map(webhook_message).collect::<Vec<_>>(),
        }),
        (ChannelKind::Slack, [one]) => slack_message(one),
        (ChannelKind::Slack, many) => slack_digest(many),
    }
}

/// A test message, for `slate alerts test`: visible, and saying so.
pub fn test_message(kind: ChannelKind, channel: &str) -> Value {
    let text = format!("Slate test message for channel `{channel}`: alerts reach this channel.");
    match kind {
        ChannelKind::Webhook => {
            json!({"version": PAYLOAD_VERSION, "event": "test", "channel": channel, "text": text})
        }
        ChannelKind::Slack => json!({ "text": text }),
    }
}

/// The canary's probe. For Slack, an empty payload, which Slack refuses
/// with 400 `invalid_payload` while the hook exists and without posting
/// anything; for a webhook, a `canary` event its receiver may ignore.
pub fn canary(kind: ChannelKind) -> Option<Value> {
    match kind {
        ChannelKind::Slack => None,
        ChannelKind::Webhook => Some(json!({"version": PAYLOAD_VERSION, "event": "canary"})),
    }
}

fn transition_tag(transition: Transition, severity: &str) -> String {
    match transition {
        Transition::Resolved => "RESOLVED".to_string(),
        Transition::Opened | Transition::Notice => severity.to_uppercase(),
    }
}

/// The command that shows what is behind an alert: its runs, its
/// processor's versions, its schedule, or the alerts and channels.
fn command_behind(raised: &NewAlert) -> String {
    let subject = &raised.subject;
    match (raised.event, raised.data_date) {
        (
            EventKind::RunFailed
            | EventKind::RunBlocked
            | EventKind::StaleRunReaped
            | EventKind::RowsQuarantined
            | EventKind::NoRowsByDeadline,
            Some(date),
        ) => format!("slate runs --processor {subject} --date {date}"),
        (EventKind::PhaseCompleted | EventKind::PhaseIncomplete, Some(date)) => {
            format!("slate runs --date {date}")
        }
        (EventKind::Deployed | EventKind::RolledBack | EventKind::Undeployed, _) => {
            format!("slate plugins history {subject}")
        }
        (EventKind::ScheduleNotFired, _) => "slate schedules".to_string(),
        _ => "slate alerts --open".to_string(),
    }
}

/// `text` as Slack's `mrkdwn` shows it as written: `&`, `<` and `>`
/// escaped. Unescaped, a processor's error could ping a whole channel
/// (`<!channel>`) or show a link under another link's label.
fn slack_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack_message(message: &OutboxMessage) -> Value {
    let alert = &message.alert;
    let tag = transition_tag(message.transition, alert.raised.severity.as_str());
    let summary = slack_escaped(&alert.raised.summary);
    let text = format!("[{tag}] {summary}");
    let detail = &alert.raised.detail;
    let field = |key: &str| slack_escaped(detail.get(key).and_then(Value::as_str).unwrap_or("-"));
    let mut lines = vec![format!(
        "*{tag}* `{}` {}: *{}*",
        alert.raised.event,
        alert
            .raised
            .data_date
            .map_or_else(|| "-".to_string(), |d| d.to_string()),
        slack_escaped(&alert.raised.subject)
    )];
    if detail.get("run_id").is_some() {
        lines.push(format!(
            "*status:* {}   *kind:* {}",
            field("status"),
            if alert.raised.kind.is_empty() {
                "-".to_string()
            } else {
                slack_escaped(&alert.raised.kind)
            }
        ));
        lines.push(format!("*error:* {}", field("error")));
        lines.push(format!("*run:* `{}`", field("run_id")));
    } else {
        lines.push(summary);
    }
    if alert.occurrences > 1 {
        lines.push(format!("seen {} times", alert.occurrences));
    }
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": format!("`{}`", slack_escaped(&command_behind(&alert.raised)))}
            ]},
        ],
    })
}

fn slack_digest(messages: &[OutboxMessage]) -> Value {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for message in messages {
        let key = match message.transition {
            Transition::Resolved => format!("{} resolved", message.alert.raised.event),
            _ => message.alert.raised.event.to_string(),
        };
        *counts.entry(key).or_default() += 1;
    }
    let tally: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let text = format!("{} alerts: {}", messages.len(), tally.join(", "));
    let mut lines: Vec<String> = messages
        .iter()
        .take(DIGEST_LISTED)
        .map(|m| {
            format!(
                "[{}] {}",
                transition_tag(m.transition, m.alert.raised.severity.as_str()),
                slack_escaped(&m.alert.raised.summary)
            )
        })
        .collect();
    if messages.len() > DIGEST_LISTED {
        lines.push(format!("... and {} more", messages.len() - DIGEST_LISTED));
    }
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{text}*")}},
            {"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "`slate alerts --open`"}
            ]},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::event::Severity;
    use crate::alerts::record::{AlertRecord, AlertState};
    use chrono::{NaiveDate, Utc};

    fn message(id: i64, transition: Transition) -> OutboxMessage {
        OutboxMessage {
            message_id: id,
            transition,
            created_at: Utc::now(),
            alert: AlertRecord {
                alert_id: id,
                raised: NewAlert {
                    event: EventKind::RunFailed,
                    severity: Severity::Error,
                    subject: "PlayerGameSummaryProcessor".into(),
                    data_date: NaiveDate::from_ymd_opt(2026, 1, 6),
                    kind: "plugin".into(),
                    run_id: Some("run-1".into()),
                    summary: "2026-01-06: PlayerGameSummaryProcessor failed [plugin] 7 games"
                        .into(),
                    detail: json!({"run_id": "run-1", "status": "failed", "error": "7 games"}),
                },
                state: AlertState::Open,
                occurrences: 1,
                first_at: Utc::now(),
                last_at: Utc::now(),
                resolved_at: None,
                resolved_by: None,
            },
        }
    }

    #[test]
    fn a_webhook_gets_the_versioned_payload_with_the_run() {
        let payload = render(ChannelKind::Webhook, &[message(1, Transition::Opened)]);
        assert_eq!(payload["version"], 1);
        assert_eq!(payload["event"], "run_failed");
        assert_eq!(payload["transition"], "opened");
        assert_eq!(payload["message_id"], 1);
        assert_eq!(payload["alert"]["data_date"], "2026-01-06");
        assert_eq!(payload["run"]["run_id"], "run-1");
    }

    #[test]
    fn slack_gets_text_and_blocks_naming_the_run_the_error_and_a_command() {
        let payload = render(ChannelKind::Slack, &[message(1, Transition::Opened)]);
        let text = payload["text"].as_str().unwrap();
        assert!(text.starts_with("[ERROR] 2026-01-06"), "{text}");
        let body = payload["blocks"][0]["text"]["text"].as_str().unwrap();
        for expected in [
            "*status:* failed",
            "*kind:* plugin",
            "*error:* 7 games",
            "`run-1`",
        ] {
            assert!(body.contains(expected), "{body} lacks {expected}");
        }
        assert_eq!(
            payload["blocks"][1]["elements"][0]["text"],
            "`slate runs --processor PlayerGameSummaryProcessor --date 2026-01-06`"
        );
        let resolved = render(ChannelKind::Slack, &[message(2, Transition::Resolved)]);
        assert!(resolved["text"].as_str().unwrap().starts_with("[RESOLVED]"));
    }

    /// A processor's error is its own text: in Slack's `mrkdwn` unescaped,
    /// `<!channel>` pinged everyone and `<URL|label>` hid where a link
    /// went, in the message, its notification text and a digest.
    #[test]
    fn slack_shows_a_processors_markup_as_text_and_pings_nobody() {
        let hostile = "<!channel> rotate at <https://evil.example|https://slate.internal> & <@U1>";
        let mut one = message(1, Transition::Opened);
        one.alert.raised.summary = format!("2026-01-06: X failed [plugin] {hostile}");
        one.alert.raised.detail = json!({"run_id": "run-1", "status": "failed", "error": hostile});
        let escaped = "&lt;!channel&gt; rotate at &lt;https://evil.example|https://slate.internal&gt; &amp; &lt;@U1&gt;";

        let single = render(ChannelKind::Slack, std::slice::from_ref(&one));
        let digest = render(ChannelKind::Slack, &vec![one; DIGEST_LISTED + 1]);

        let body = single["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(body.contains(&format!("*error:* {escaped}")), "{body}");
        assert!(single["text"].as_str().unwrap().ends_with(escaped));
        let listed = digest["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(listed.contains(escaped), "{listed}");
        for payload in [single, digest] {
            assert!(!payload.to_string().contains("<!channel>"), "{payload}");
        }
    }

    /// Before, every alert without a run read `slate runs --processor
    /// SUBJECT`: "phase 4 precompute" as a processor, a schedule's name, a
    /// file, a channel.
    #[test]
    fn slacks_context_line_names_a_command_that_shows_what_the_alert_is_about() {
        let context = |event: EventKind, subject: &str, date: Option<NaiveDate>| {
            let mut one = message(1, Transition::Opened);
            one.alert.raised = NewAlert {
                event,
                subject: subject.into(),
                data_date: date,
                detail: json!({}),
                ..one.alert.raised
            };
            let payload = render(ChannelKind::Slack, &[one]);
            payload["blocks"][1]["elements"][0]["text"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let day = NaiveDate::from_ymd_opt(2026, 1, 6);
        let cases = [
            (
                EventKind::NoRowsByDeadline,
                "PlayerGameSummaryProcessor",
                day,
                "`slate runs --processor PlayerGameSummaryProcessor --date 2026-01-06`",
            ),
            (
                EventKind::PhaseIncomplete,
                "phase 4 precompute",
                day,
                "`slate runs --date 2026-01-06`",
            ),
            (
                EventKind::RolledBack,
                "PlayerGameSummaryProcessor",
                None,
                "`slate plugins history PlayerGameSummaryProcessor`",
            ),
            (
                EventKind::ScheduleNotFired,
                "nightly",
                day,
                "`slate schedules`",
            ),
            (
                EventKind::DeployRejected,
                "x.wasm",
                None,
                "`slate alerts --open`",
            ),
            (
                EventKind::AlertChannelDead,
                "ops",
                None,
                "`slate alerts --open`",
            ),
        ];
        for (event, subject, date, expected) in cases {
            assert_eq!(context(event, subject, date), expected, "{event:?}");
        }
    }

    #[test]
    fn a_backlog_is_one_digest_counting_every_message() {
        let many: Vec<_> = (1..=150).map(|i| message(i, Transition::Opened)).collect();
        let webhook = render(ChannelKind::Webhook, &many);
        assert_eq!(webhook["event"], "digest");
        assert_eq!(webhook["count"], 150);
        assert_eq!(webhook["messages"].as_array().unwrap().len(), 150);
        let slack = render(ChannelKind::Slack, &many);
        assert_eq!(slack["text"], "150 alerts: 150 run_failed");
        let listed = slack["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(listed.ends_with("... and 130 more"), "{listed}");
    }
}
