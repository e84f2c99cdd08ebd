//! What the outbox holds: alerts with their state, the messages waiting to
//! be sent, each channel's delivery state, and every delivery attempt.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::event::NewAlert;
use crate::runs::text_enum;

text_enum!(AlertState { Open => "open", Resolved => "resolved", Notice => "notice" });
text_enum!(Transition { Opened => "opened", Resolved => "resolved", Notice => "notice" });
text_enum!(ChannelHealth { Up => "up", Failing => "failing", Dead => "dead" });
text_enum!(AttemptOutcome {
    Delivered => "delivered", Retry => "retry", Permanent => "permanent",
});

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Unresolved: repeats count up instead of sending again.
    Open,
    /// A later success (or a person) resolved it.
    Resolved,
    /// A one-off notice, never open.
    Notice,
}

/// One recorded alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    /// Its id, in the order recorded.
    pub alert_id: i64,
    /// The event as last raised (the latest run that raised it).
    #[serde(flatten)]
    pub raised: NewAlert,
    /// Where it stands.
    pub state: AlertState,
    /// How many times it was raised while open.
    pub occurrences: i64,
    /// When it was first raised.
    pub first_at: DateTime<Utc>,
    /// When it was last raised.
    pub last_at: DateTime<Utc>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// What resolved it: a run id, [`RESOLVED_BY_HAND`], or why nothing
    /// else could (an undeploy, an ended shadow).
    pub resolved_by: Option<String>,
}

/// `resolved_by` of an alert an operator resolved (`slate alerts
/// resolve`). A date's `no_rows_by_deadline` resolved so is acknowledged:
/// the sweep does not raise it again.
pub const RESOLVED_BY_HAND: &str = "slate alerts resolve";

impl AlertRecord {
    /// Whether an operator resolved it by hand.
    pub fn resolved_by_hand(&self) -> bool {
        self.resolved_by.as_deref() == Some(RESOLVED_BY_HAND)
    }
}

/// Why a message was queued for an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The alert was opened.
    Opened,
    /// The alert was resolved.
    Resolved,
    /// A notice was recorded.
    Notice,
}

/// A message in the outbox: an alert's transition, waiting for channels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxMessage {
    /// Its id: channels deliver in this order and remember the last one.
    pub message_id: i64,
    /// Why it was queued.
    pub transition: Transition,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// The alert, as it is now.
    pub alert: AlertRecord,
}

/// Whether a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelHealth {
    /// Its last delivery or probe succeeded, or it has not been tried.
    Up,
    /// Failing, and retried with backoff.
    Failing,
    /// Refused permanently, or failed past its threshold: an alert itself.
    Dead,
}

/// A channel's delivery state, kept in the store so that every host and
/// every command sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelState {
    /// The channel's name in `slate.toml`.
    pub channel: String,
    /// Every message up to this id was delivered (or not routed here).
    pub delivered_through: i64,
    /// Whether it delivers.
    pub health: ChannelHealth,
    /// Why it is failing or dead, e.g. "404 no_service".
    pub reason: Option<String>,
    /// Since when it has been failing or dead.
    pub since: Option<DateTime<Utc>>,
    /// Failed attempts in a row.
    pub consecutive_failures: i64,
    /// No attempt before this (backoff, rate limit, Retry-After).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When a message was last delivered.
    pub last_sent_at: Option<DateTime<Utc>>,
    /// The last message the store held when this channel first appeared.
    /// Of the messages up to it, only those of alerts open at that moment
    /// go to the channel: one added later is told what was wrong then and
    /// everything since, not the store's whole history.
    pub joined_after: i64,
    /// When it first appeared (none for a channel recorded before channels
    /// recorded it).
    pub joined_at: Option<DateTime<Utc>>,
}

impl ChannelState {
    /// A channel never tried: up, with nothing delivered.
    pub fn new(channel: &str) -> Self {
        ChannelState {
            channel: channel.to_string(),
            delivered_through: 0,
            health: ChannelHealth::Up,
            reason: None,
            since: None,
            consecutive_failures: 0,
            next_attempt_at: None,
            last_sent_at: None,
            joined_after: 0,
            joined_at: None,
        }
    }

    /// Whether `message` is for this channel as far as its history goes:
    /// recorded after the channel appeared, or about an alert that was
    /// open then (still open, or resolved since), so that a channel told
    /// of an alert's resolution was told of its opening too.
    pub fn wants(&self, message: &OutboxMessage) -> bool {
        if message.message_id > self.joined_after {
            return true;
        }
        let alert = &message.alert;
        match alert.state {
            AlertState::Open => true,
            AlertState::Resolved => self
                .joined_at
                .zip(alert.resolved_at)
                .is_some_and(|(joined, resolved)| resolved > joined),
            AlertState::Notice => false,
        }
    }
}

/// What one attempt at a channel came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered,
    /// Retried later: 429, 5xx, a timeout, a refused connection.
    Retry,
    /// Refused for good: a 4xx other than 429.
    Permanent,
}

/// One recorded attempt to deliver to a channel, or to probe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryAttempt {
    /// The channel.
    pub channel: String,
    /// What was sent: `message`, `digest`, `test` or `canary`.
    pub purpose: String,
    /// The messages it carried (none for a test or a canary).
    pub message_ids: Vec<i64>,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
    /// What it came to.
    pub outcome: AttemptOutcome,
    /// The HTTP status, when there was a response.
    pub status_code: Option<u16>,
    /// The start of the response body, or the transport error.
    pub response_excerpt: String,
    /// How long it took, in milliseconds.
    pub latency_ms: i64,
}
