//! The embedded store's alert outbox ([`AlertOutbox`]): `_slate_alerts`,
//! whose partial unique index keeps one open alert per key,
//! `_slate_alert_messages` (the outbox proper), `_slate_alert_channels` and
//! `_slate_alert_attempts`. The run ledger calls [`record_in`] and
//! [`resolve_in`] inside its own transactions.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, Row as SqlRow, TransactionBehavior, params};

use super::{EmbeddedStore, timestamp};
use crate::alerts::event::{EventKind, Lifecycle, NewAlert};
use crate::alerts::record::{
    AlertRecord, ChannelState, DeliveryAttempt, OutboxMessage, RESOLVED_BY_HAND, Transition,
};
use crate::store::StoreError;
use crate::store::alerts::{AlertOutbox, ChannelClaim};
use crate::store::cells::{date_key, parse_date_key};

/// The outbox's tables, created with the store.
pub(super) const SETUP: &str = "
    CREATE TABLE IF NOT EXISTS _slate_alerts (
        alert_id INTEGER PRIMARY KEY AUTOINCREMENT,
        event TEXT NOT NULL,
        severity TEXT NOT NULL,
        subject TEXT NOT NULL,
        data_date TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL DEFAULT '',
        run_id TEXT,
        summary TEXT NOT NULL,
        detail_json TEXT NOT NULL,
        state TEXT NOT NULL,
        occurrences INTEGER NOT NULL DEFAULT 1,
        first_at TEXT NOT NULL,
        last_at TEXT NOT NULL,
        resolved_at TEXT,
        resolved_by TEXT
    );
    CREATE UNIQUE INDEX IF NOT EXISTS _slate_alerts_one_open
        ON _slate_alerts (event, subject, data_date, kind) WHERE state = 'open';
    CREATE INDEX IF NOT EXISTS _slate_alerts_by_subject
        ON _slate_alerts (subject, data_date, state);
    CREATE TABLE IF NOT EXISTS _slate_alert_messages (
        message_id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL,
        transition TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate_alert_channels (
        channel TEXT PRIMARY KEY,
        delivered_through INTEGER NOT NULL DEFAULT 0,
        health TEXT NOT NULL DEFAULT 'up',
        reason TEXT,
        since TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_sent_at TEXT,
        claimed_by TEXT,
        claimed_until TEXT,
        joined_after INTEGER NOT NULL DEFAULT 0,
        joined_at TEXT
    );
    CREATE TABLE IF NOT EXISTS _slate_alert_attempts (
        attempt_id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        purpose TEXT NOT NULL,
        message_ids TEXT NOT NULL,
        attempted_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status_code INTEGER,
        response_excerpt TEXT NOT NULL,
        latency_ms INTEGER NOT NULL
    );
";

const ALERT_COLUMNS: &str = "a.alert_id, a.event, a.severity, a.subject, a.data_date, a.kind, \
    a.run_id, a.summary, a.detail_json, a.state, a.occurrences, a.first_at, a.last_at, \
    a.resolved_at, a.resolved_by";

fn unreadable(column: usize, text: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("unreadable value `{text}`").into(),
    )
}

fn time_at(row: &SqlRow<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(index)?;
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| unreadable(index, &t))
    })
    .transpose()
}

fn alert_from_sql(row: &SqlRow<'_>) -> rusqlite::Result<AlertRecord> {
    alert_at(row, 0)
}

/// The alert whose columns ([`ALERT_COLUMNS`]) start at column `at`.
fn alert_at(row: &SqlRow<'_>, at: usize) -> rusqlite::Result<AlertRecord> {
    let event: String = row.get(at + 1)?;
    let severity: String = row.get(at + 2)?;
    let date: String = row.get(at + 4)?;
    let detail: String = row.get(at + 8)?;
    let state: String = row.get(at + 9)?;
    Ok(AlertRecord {
        alert_id: row.get(at)?,
        raised: NewAlert {
            event: event.parse().map_err(|_| unreadable(at + 1, &event))?,
            severity: severity
                .parse()
                .map_err(|_| unreadable(at + 2, &severity))?,
            subject: row.get(at + 3)?,
            data_date: match date.as_str() {
                "" => None,
                text => Some(parse_date_key(text).ok_or_else(|| unreadable(at + 4, text))?),
            },
            kind: row.get(at + 5)?,
            run_id: row.get(at + 6)?,
            summary: row.get(at + 7)?,
            detail: serde_json::from_str(&detail).map_err(|_| unreadable(at + 8, &detail))?,
        },
        state: state.parse().map_err(|_| unreadable(at + 9, &state))?,
        occurrences: row.get(at + 10)?,
        first_at: time_at(row, at + 11)?.unwrap_or_default(),
        last_at: time_at(row, at + 12)?.unwrap_or_default(),
        resolved_at: time_at(row, at + 13)?,
        resolved_by: row.get(at + 14)?,
    })
}

fn date_text(date: Option<NaiveDate>) -> String {
    date.map(date_key).unwrap_or_default()
}

fn queue_message(
    connection: &Connection,
    alert_id: i64,
    transition: Transition,
    now: &str,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO _slate_alert_messages (alert_id, transition, created_at)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![alert_id, transition.as_str(), now])?;
    Ok(())
}

/// Records `alert` on `connection`, inside the caller's transaction: an
/// open alert with the same key counts up (and queues nothing); otherwise
/// a new alert and its message are queued. A once-ever event already
/// recorded returns `None`.
pub(super) fn record_in(
    connection: &Connection,
    alert: &NewAlert,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let now = timestamp(now);
    let date = date_text(alert.data_date);
    let detail = alert.detail.to_string();
    let lifecycle = alert.event.lifecycle();
    let existing: Option<i64> = match lifecycle {
        Lifecycle::Open => connection
            .prepare_cached(
                "UPDATE _slate_alerts SET occurrences = occurrences + 1, last_at = ?5,
                     run_id = ?6, summary = ?7, detail_json = ?8
                 WHERE state = 'open' AND event = ?1 AND subject = ?2 AND data_date = ?3
                   AND kind = ?4
                 RETURNING alert_id",
            )?
            .query_row(
                params![
                    alert.event.as_str(),
                    alert.subject,
                    date,
                    alert.kind,
                    now,
                    alert.run_id,
                    alert.summary,
                    detail
                ],
                |row| row.get(0),
            )
            .optional()?,
        Lifecycle::OnceEver => {
            let recorded: Option<i64> = connection
                .query_row(
                    "SELECT alert_id FROM _slate_alerts
                     WHERE event = ?1 AND subject = ?2 AND data_date = ?3 AND kind = ?4",
                    params![alert.event.as_str(), alert.subject, date, alert.kind],
                    |row| row.get(0),
                )
                .optional()?;
            if recorded.is_some() {
                return Ok(None);
            }
            None
        }
        Lifecycle::Notice => None,
    };
    if let Some(alert_id) = existing {
        return Ok(Some(alert_id));
    }
    let (state, transition) = lifecycle.first_state();
    let alert_id: i64 = connection
        .prepare_cached(
            "INSERT INTO _slate_alerts (event, severity, subject, data_date, kind, run_id,
                 summary, detail_json, state, first_at, last_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
             RETURNING alert_id",
        )?
        .query_row(
            params![
                alert.event.as_str(),
                alert.severity.as_str(),
                alert.subject,
                date,
                alert.kind,
                alert.run_id,
                alert.summary,
                detail,
                state.as_str(),
                now,
            ],
            |row| row.get(0),
        )?;
    queue_message(connection, alert_id, transition, &now)?;
    Ok(Some(alert_id))
}

/// Resolves, inside the caller's transaction, the open alerts of these
/// `events` about `subject` on `date`, and queues a resolved message for
/// each. Returns how many were resolved.
pub(super) fn resolve_in(
    connection: &Connection,
    subject: &str,
    date: Option<NaiveDate>,
    events: &[EventKind],
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let now = timestamp(now);
    // One statement for every event: this runs in every commit.
    let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    let events = serde_json::to_string(&events).map_err(StoreError::backend)?;
    let mut resolve = connection.prepare_cached(
        "UPDATE _slate_alerts SET state = 'resolved', resolved_at = ?4, resolved_by = ?5
         WHERE state = 'open' AND subject = ?1 AND data_date = ?2
           AND event IN (SELECT value FROM json_each(?3))
         RETURNING alert_id",
    )?;
    let resolved: Vec<i64> = resolve
        .query_map(params![subject, date_text(date), events, now, by], |row| {
            row.get(0)
        })?
        .collect::<Result<_, _>>()?;
    drop(resolve);
    for alert_id in &resolved {
        queue_message(connection, *alert_id, Transition::Resolved, &now)?;
    }
    Ok(resolved.len())
}

fn channel_from_sql(row: &SqlRow<'_>) -> rusqlite::Result<ChannelState> {
    let health: String = row.get(2)?;
    Ok(ChannelState {
        channel: row.get(0)?,
        delivered_through: row.get(1)?,
        health: health.parse().map_err(|_| unreadable(2, &health))?,
        reason: row.get(3)?,
        since: time_at(row, 4)?,
        consecutive_failures: row.get(5)?,
        next_attempt_at: time_at(row, 6)?,
        last_sent_at: time_at(row, 7)?,
        joined_after: row.get(8)?,
        joined_at: time_at(row, 9)?,
    })
}

const CHANNEL_COLUMNS: &str = "channel, delivered_through, health, reason, since, \
    consecutive_failures, next_attempt_at, last_sent_at, joined_after, joined_at";

/// Adds `?1` to the channels, if new, as joining after the last message.
const ADD_CHANNEL: &str = "INSERT OR IGNORE INTO _slate_alert_channels
        (channel, joined_after, joined_at)
    VALUES (?1, (SELECT COALESCE(MAX(message_id), 0) FROM _slate_alert_messages), ?2)";

impl AlertOutbox for EmbeddedStore {
    fn record_alert(&self, alert: &NewAlert) -> Result<Option<i64>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = Utc::now();
        let recorded = record_in(&transaction, alert, now)?;
        if let Some((events, by)) = alert.event.resolves() {
            resolve_in(
                &transaction,
                &alert.subject,
                alert.data_date,
                events,
                by,
                now,
            )?;
        }
        transaction.commit()?;
        Ok(recorded)
    }

    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM _slate_alerts a
             WHERE ?1 = 0 OR a.state = 'open'
             ORDER BY a.alert_id DESC LIMIT ?2"
        ))?;
        let alerts = statement
            .query_map(params![open_only, limit as i64], alert_from_sql)?
            .collect::<Result<_, _>>()?;
        Ok(alerts)
    }

    fn open_or_resolved_by_hand(&self, event: EventKind) -> Result<Vec<AlertRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM _slate_alerts a
             WHERE a.event = ?1 AND (a.state = 'open' OR a.resolved_by = ?2)
             ORDER BY a.alert_id DESC"
        ))?;
        let alerts = statement
            .query_map(params![event.as_str(), RESOLVED_BY_HAND], alert_from_sql)?
            .collect::<Result<_, _>>()?;
        Ok(alerts)
    }

    fn resolve_alert(&self, alert_id: i64, by: &str) -> Result<bool, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = timestamp(Utc::now());
        let updated = transaction.execute(
            "UPDATE _slate_alerts SET state = 'resolved', resolved_at = ?2, resolved_by = ?3
             WHERE alert_id = ?1 AND state = 'open'",
            params![alert_id, now, by],
        )?;
        if updated == 1 {
            queue_message(&transaction, alert_id, Transition::Resolved, &now)?;
        }
        transaction.commit()?;
        Ok(updated == 1)
    }

    fn add_channels(&self, channels: &[&str]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for channel in channels {
            transaction.execute(ADD_CHANNEL, params![channel, timestamp(Utc::now())])?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn messages_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT m.message_id, m.transition, m.created_at, {ALERT_COLUMNS}
             FROM _slate_alert_messages m JOIN _slate_alerts a USING (alert_id)
             WHERE m.message_id > ?1 ORDER BY m.message_id LIMIT ?2"
        ))?;
        let messages = statement
            .query_map(params![after, limit as i64], |row| {
                let transition: String = row.get(1)?;
                // The alert's columns follow the message's three.
                let alert = alert_at(row, 3)?;
                Ok(OutboxMessage {
                    message_id: row.get(0)?,
                    transition: transition.parse().map_err(|_| unreadable(1, &transition))?,
                    created_at: time_at(row, 2)?.unwrap_or_default(),
                    alert,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(messages)
    }

    fn claim_channel(
        &self,
        channel: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        take_over_from: Option<&str>,
    ) -> Result<ChannelClaim, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(ADD_CHANNEL, params![channel, timestamp(Utc::now())])?;
        let claimed = transaction.execute(
            "UPDATE _slate_alert_channels SET claimed_by = ?2, claimed_until = ?3
             WHERE channel = ?1
               AND (claimed_by IS NULL OR claimed_by = ?2 OR claimed_until < ?4
                    OR claimed_by = ?5)",
            params![
                channel,
                holder,
                timestamp(until),
                timestamp(now),
                take_over_from
            ],
        )?;
        let state = if claimed == 1 {
            ChannelClaim::Claimed(transaction.query_row(
                &format!("SELECT {CHANNEL_COLUMNS} FROM _slate_alert_channels WHERE channel = ?1"),
                [channel],
                channel_from_sql,
            )?)
        } else {
            ChannelClaim::HeldBy(transaction.query_row(
                "SELECT claimed_by FROM _slate_alert_channels WHERE channel = ?1",
                [channel],
                |row| row.get(0),
            )?)
        };
        transaction.commit()?;
        Ok(state)
    }

    fn finish_delivery(
        &self,
        holder: &str,
        attempt: Option<&DeliveryAttempt>,
        state: Option<&ChannelState>,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(attempt) = attempt {
            transaction.execute(
                "INSERT INTO _slate_alert_attempts (channel, purpose, message_ids, attempted_at,
                     outcome, status_code, response_excerpt, latency_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    attempt.channel,
                    attempt.purpose,
                    serde_json::to_string(&attempt.message_ids).map_err(StoreError::backend)?,
                    timestamp(attempt.attempted_at),
                    attempt.outcome.as_str(),
                    attempt.status_code,
                    attempt.response_excerpt,
                    attempt.latency_ms,
                ],
            )?;
        }
        let Some(state) = state else {
            transaction.commit()?;
            return Ok(());
        };
        transaction.execute(ADD_CHANNEL, params![state.channel, timestamp(Utc::now())])?;
        transaction.execute(
            "UPDATE _slate_alert_channels SET delivered_through = ?2, health = ?3, reason = ?4,
                 since = ?5, consecutive_failures = ?6, next_attempt_at = ?7, last_sent_at = ?8,
                 claimed_by = CASE WHEN claimed_by = ?9 THEN NULL ELSE claimed_by END,
                 claimed_until = CASE WHEN claimed_by = ?9 THEN NULL ELSE claimed_until END
             WHERE channel = ?1",
            params![
                state.channel,
                state.delivered_through,
                state.health.as_str(),
                state.reason,
                state.since.map(timestamp),
                state.consecutive_failures,
                state.next_attempt_at.map(timestamp),
                state.last_sent_at.map(timestamp),
                holder,
            ],
        )?;
        transaction.commit()?;
        Ok(())
    }

    fn channel_states(&self) -> Result<Vec<ChannelState>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM _slate_alert_channels ORDER BY channel"
        ))?;
        let states = statement
            .query_map([], channel_from_sql)?
            .collect::<Result<_, _>>()?;
        Ok(states)
    }

    fn delivery_attempts(
        &self,
        channel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT channel, purpose, message_ids, attempted_at, outcome, status_code,
                    response_excerpt, latency_ms
             FROM _slate_alert_attempts WHERE ?1 IS NULL OR channel = ?1
             ORDER BY attempt_id DESC LIMIT ?2",
        )?;
        let attempts = statement
            .query_map(params![channel, limit as i64], |row| {
                let ids: String = row.get(2)?;
                let outcome: String = row.get(4)?;
                Ok(DeliveryAttempt {
                    channel: row.get(0)?,
                    purpose: row.get(1)?,
                    message_ids: serde_json::from_str(&ids).map_err(|_| unreadable(2, &ids))?,
                    attempted_at: time_at(row, 3)?.unwrap_or_default(),
                    outcome: outcome.parse().map_err(|_| unreadable(4, &outcome))?,
                    status_code: row.get(5)?,
                    response_excerpt: row.get(6)?,
                    latency_ms: row.get(7)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(attempts)
    }

    fn delivery_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT channel, outcome, COUNT(*) FROM _slate_alert_attempts
             WHERE purpose IN ('message', 'digest')
             GROUP BY channel, outcome ORDER BY channel, outcome",
        )?;
        let counts = statement
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        Ok(counts)
    }
}
