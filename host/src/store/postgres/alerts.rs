//! The PostgreSQL store's alert outbox ([`AlertOutbox`]), shared by every
//! host on the database: `_slate.alerts`, whose partial unique index keeps
//! one open alert per key, `_slate.alert_messages` (the outbox proper),
//! `_slate.alert_channels` (each channel's delivery state and the claim
//! that lets one deliverer of many send it) and `_slate.alert_attempts`.
//! The run ledger calls [`record_in`] and [`resolve_in`] inside its own
//! transactions.

use chrono::{DateTime, NaiveDate, Utc};
use postgres::{GenericClient, Row};

use super::PostgresStore;
use crate::alerts::event::{EventKind, Lifecycle, NewAlert};
use crate::alerts::record::{
    AlertRecord, ChannelState, DeliveryAttempt, OutboxMessage, RESOLVED_BY_HAND, Transition,
};
use crate::store::StoreError;
use crate::store::alerts::{AlertOutbox, ChannelClaim};
use crate::store::cells::{date_key, parse_date_key};

/// The outbox's tables, created with the store.
pub(super) const SETUP: &str = "
    CREATE TABLE IF NOT EXISTS _slate.alerts (
        alert_id BIGSERIAL PRIMARY KEY,
        event TEXT NOT NULL,
        severity TEXT NOT NULL,
        subject TEXT NOT NULL,
        data_date TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL DEFAULT '',
        run_id TEXT,
        summary TEXT NOT NULL,
        detail_json TEXT NOT NULL,
        state TEXT NOT NULL,
        occurrences BIGINT NOT NULL DEFAULT 1,
        first_at TIMESTAMPTZ NOT NULL,
        last_at TIMESTAMPTZ NOT NULL,
        resolved_at TIMESTAMPTZ,
        resolved_by TEXT
    );
    CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open
        ON _slate.alerts (event, subject, data_date, kind) WHERE state = 'open';
    CREATE INDEX IF NOT EXISTS alerts_by_subject
        ON _slate.alerts (subject, data_date, state);
    CREATE TABLE IF NOT EXISTS _slate.alert_messages (
        message_id BIGSERIAL PRIMARY KEY,
        alert_id BIGINT NOT NULL,
        transition TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate.alert_channels (
        channel TEXT PRIMARY KEY,
        delivered_through BIGINT NOT NULL DEFAULT 0,
        health TEXT NOT NULL DEFAULT 'up',
        reason TEXT,
        since TIMESTAMPTZ,
        consecutive_failures BIGINT NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ,
        last_sent_at TIMESTAMPTZ,
        claimed_by TEXT,
        claimed_until TIMESTAMPTZ,
        joined_after BIGINT NOT NULL DEFAULT 0,
        joined_at TIMESTAMPTZ
    );
    -- Channels made before they recorded when they joined get the columns
    -- (0, and no time: every message is theirs, as it was).
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = '_slate' AND table_name = 'alert_channels'
                         AND column_name = 'joined_at') THEN
            ALTER TABLE _slate.alert_channels
                ADD COLUMN IF NOT EXISTS joined_after BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN joined_at TIMESTAMPTZ;
        END IF;
    END $$;
    CREATE TABLE IF NOT EXISTS _slate.alert_attempts (
        attempt_id BIGSERIAL PRIMARY KEY,
        channel TEXT NOT NULL,
        purpose TEXT NOT NULL,
        message_ids TEXT NOT NULL,
        attempted_at TIMESTAMPTZ NOT NULL,
        outcome TEXT NOT NULL,
        status_code INTEGER,
        response_excerpt TEXT NOT NULL,
        latency_ms BIGINT NOT NULL
    );
";

const ALERT_COLUMNS: &str = "a.alert_id, a.event, a.severity, a.subject, a.data_date, a.kind, \
    a.run_id, a.summary, a.detail_json, a.state, a.occurrences, a.first_at, a.last_at, \
    a.resolved_at, a.resolved_by";

const CHANNEL_COLUMNS: &str = "channel, delivered_through, health, reason, since, \
    consecutive_failures, next_attempt_at, last_sent_at, joined_after, joined_at";

/// Adds `$1` to the channels, if new, as joining after the last message.
const ADD_CHANNEL: &str = "INSERT INTO _slate.alert_channels (channel, joined_after, joined_at)
    VALUES ($1, (SELECT COALESCE(MAX(message_id), 0) FROM _slate.alert_messages), now())
    ON CONFLICT (channel) DO NOTHING";

fn unreadable(what: &str, text: &str) -> StoreError {
    StoreError::backend(format!("unreadable alert {what} `{text}`"))
}

/// The alert whose columns ([`ALERT_COLUMNS`]) start at column `at`.
fn alert_at(row: &Row, at: usize) -> Result<AlertRecord, StoreError> {
    let event: &str = row.get(at + 1);
    let severity: &str = row.get(at + 2);
    let date: &str = row.get(at + 4);
    let detail: &str = row.get(at + 8);
    let state: &str = row.get(at + 9);
    Ok(AlertRecord {
        alert_id: row.get(at),
        raised: NewAlert {
            event: event.parse().map_err(|_| unreadable("event", event))?,
            severity: severity
                .parse()
                .map_err(|_| unreadable("severity", severity))?,
            subject: row.get(at + 3),
            data_date: match date {
                "" => None,
                text => Some(parse_date_key(text).ok_or_else(|| unreadable("date", text))?),
            },
            kind: row.get(at + 5),
            run_id: row.get(at + 6),
            summary: row.get(at + 7),
            detail: serde_json::from_str(detail).map_err(|_| unreadable("detail", detail))?,
        },
        state: state.parse().map_err(|_| unreadable("state", state))?,
        occurrences: row.get(at + 10),
        first_at: row.get(at + 11),
        last_at: row.get(at + 12),
        resolved_at: row.get(at + 13),
        resolved_by: row.get(at + 14),
    })
}

fn channel_from_row(row: &Row) -> Result<ChannelState, StoreError> {
    let health: &str = row.get(2);
    Ok(ChannelState {
        channel: row.get(0),
        delivered_through: row.get(1),
        health: health.parse().map_err(|_| unreadable("health", health))?,
        reason: row.get(3),
        since: row.get(4),
        consecutive_failures: row.get(5),
        next_attempt_at: row.get(6),
        last_sent_at: row.get(7),
        joined_after: row.get(8),
        joined_at: row.get(9),
    })
}

fn date_text(date: Option<NaiveDate>) -> String {
    date.map(date_key).unwrap_or_default()
}

fn queue_message(
    client: &mut impl GenericClient,
    alert_id: i64,
    transition: Transition,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    client.execute(
        "INSERT INTO _slate.alert_messages (alert_id, transition, created_at)
         VALUES ($1, $2, $3)",
        &[&alert_id, &transition.as_str(), &now],
    )?;
    Ok(())
}

/// Records `alert` inside the caller's transaction: an open alert with the
/// same key counts up (and queues nothing); otherwise a new alert and its
/// message are queued. A once-ever event already recorded returns `None`.
/// The key is locked for the rest of the transaction, so that two hosts
/// never both add it.
pub(super) fn record_in(
    client: &mut impl GenericClient,
    alert: &NewAlert,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let date = date_text(alert.data_date);
    let detail = alert.detail.to_string();
    let lifecycle = alert.event.lifecycle();
    let key: [&(dyn postgres::types::ToSql + Sync); 4] =
        [&alert.event.as_str(), &alert.subject, &date, &alert.kind];
    // Hosts recording the same alert at once take turns, until their
    // transactions end: the second then counts up the first's open alert,
    // or finds its once-ever one, instead of adding another.
    client.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2 || '/' || $3 || '/' || $4))",
        &key,
    )?;
    match lifecycle {
        Lifecycle::Open => {
            let repeated = client.query_opt(
                "UPDATE _slate.alerts SET occurrences = occurrences + 1, last_at = $5,
                     run_id = $6, summary = $7, detail_json = $8
                 WHERE state = 'open' AND event = $1 AND subject = $2 AND data_date = $3
                   AND kind = $4
                 RETURNING alert_id",
                &[
                    key[0],
                    key[1],
                    key[2],
                    key[3],
                    &now,
                    &alert.run_id,
                    &alert.summary,
                    &detail,
                ],
            )?;
            if let Some(row) = repeated {
                return Ok(Some(row.get(0)));
            }
        }
        Lifecycle::OnceEver => {
            let recorded = client.query_opt(
                "SELECT alert_id FROM _slate.alerts
                 WHERE event = $1 AND subject = $2 AND data_date = $3 AND kind = $4",
                &key,
            )?;
            if recorded.is_some() {
                return Ok(None);
            }
        }
        Lifecycle::Notice => {}
    }
    let (state, transition) = lifecycle.first_state();
    let alert_id: i64 = client
        .query_one(
            "INSERT INTO _slate.alerts (event, severity, subject, data_date, kind, run_id,
                 summary, detail_json, state, first_at, last_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
             RETURNING alert_id",
            &[
                &alert.event.as_str(),
                &alert.severity.as_str(),
                &alert.subject,
                &date,
                &alert.kind,
                &alert.run_id,
                &alert.summary,
                &detail,
                &state.as_str(),
                &now,
            ],
        )?
        .get(0);
    queue_message(client, alert_id, transition, now)?;
    Ok(Some(alert_id))
}

/// Resolves, inside the caller's transaction, the open alerts of these
/// `events` about `subject` on `date`, and queues a resolved message for
/// each. Returns how many were resolved.
pub(super) fn resolve_in(
    client: &mut impl GenericClient,
    subject: &str,
    date: Option<NaiveDate>,
    events: &[EventKind],
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    let resolved: Vec<i64> = client
        .query(
            "UPDATE _slate.alerts SET state = 'resolved', resolved_at = $4, resolved_by = $5
             WHERE state = 'open' AND subject = $1 AND data_date = $2 AND event = ANY($3)
             RETURNING alert_id",
            &[&subject, &date_text(date), &events, &now, &by],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for alert_id in &resolved {
        queue_message(client, *alert_id, Transition::Resolved, now)?;
    }
    Ok(resolved.len())
}

impl AlertOutbox for PostgresStore {
    fn record_alert(&self, alert: &NewAlert) -> Result<Option<i64>, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let now = crate::store::now_to_the_microsecond();
            let recorded = record_in(&mut transaction, alert, now)?;
            if let Some((events, by)) = alert.event.resolves() {
                resolve_in(
                    &mut transaction,
                    &alert.subject,
                    alert.data_date,
                    events,
                    by,
                    now,
                )?;
            }
            transaction.commit()?;
            Ok(recorded)
        })
    }

    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM _slate.alerts a
                     WHERE NOT $1 OR a.state = 'open'
                     ORDER BY a.alert_id DESC LIMIT $2"
                ),
                &[&open_only, &(limit as i64)],
            )?)
        })?;
        rows.iter().map(|row| alert_at(row, 0)).collect()
    }

    fn open_or_resolved_by_hand(&self, event: EventKind) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM _slate.alerts a
                     WHERE a.event = $1 AND (a.state = 'open' OR a.resolved_by = $2)
                     ORDER BY a.alert_id DESC"
                ),
                &[&event.as_str(), &RESOLVED_BY_HAND],
            )?)
        })?;
        rows.iter().map(|row| alert_at(row, 0)).collect()
    }

    fn resolve_alert(&self, alert_id: i64, by: &str) -> Result<bool, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let now = crate::store::now_to_the_microsecond();
            let updated = transaction.execute(
                "UPDATE _slate.alerts SET state = 'resolved', resolved_at = $2, resolved_by = $3
                 WHERE alert_id = $1 AND state = 'open'",
                &[&alert_id, &now, &by],
            )?;
            if updated == 1 {
                queue_message(&mut transaction, alert_id, Transition::Resolved, now)?;
            }
            transaction.commit()?;
            Ok(updated == 1)
        })
    }

    fn add_channels(&self, channels: &[&str]) -> Result<(), StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            for channel in channels {
                transaction.execute(ADD_CHANNEL, &[channel])?;
            }
            transaction.commit()?;
            Ok(())
        })
    }

    fn messages_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                &format!(
                    "SELECT m.message_id, m.transition, m.created_at, {ALERT_COLUMNS}
                     FROM _slate.alert_messages m JOIN _slate.alerts a USING (alert_id)
                     WHERE m.message_id > $1 ORDER BY m.message_id LIMIT $2"
                ),
                &[&after, &(limit as i64)],
            )?)
        })?;
        rows.iter()
            .map(|row| {
                let transition: &str = row.get(1);
                Ok(OutboxMessage {
                    message_id: row.get(0),
                    transition: transition
                        .parse()
                        .map_err(|_| unreadable("transition", transition))?,
                    created_at: row.get(2),
                    // The alert's columns follow the message's three.
                    alert: alert_at(row, 3)?,
                })
            })
            .collect()
    }

    fn claim_channel(
        &self,
        channel: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        take_over_from: Option<&str>,
    ) -> Result<ChannelClaim, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            transaction.execute(ADD_CHANNEL, &[&channel])?;
            let claimed = transaction.query_opt(
                &format!(
                    "UPDATE _slate.alert_channels
                     SET claimed_by = $2, claimed_until = now() + ($3::timestamptz - $4::timestamptz)
                     WHERE channel = $1
                       AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until < now()
                            OR claimed_by = $5)
                     RETURNING {CHANNEL_COLUMNS}"
                ),
                &[&channel, &holder, &until, &now, &take_over_from],
            )?;
            let state = match claimed {
                Some(row) => ChannelClaim::Claimed(channel_from_row(&row)?),
                None => ChannelClaim::HeldBy(
                    transaction
                        .query_one(
                            "SELECT claimed_by FROM _slate.alert_channels WHERE channel = $1",
                            &[&channel],
                        )?
                        .get::<_, Option<String>>(0)
                        .unwrap_or_default(),
                ),
            };
            transaction.commit()?;
            Ok(state)
        })
    }

    fn finish_delivery(
        &self,
        holder: &str,
        attempt: Option<&DeliveryAttempt>,
        state: Option<&ChannelState>,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            if let Some(attempt) = attempt {
                let message_ids =
                    serde_json::to_string(&attempt.message_ids).map_err(StoreError::backend)?;
                transaction.execute(
                    "INSERT INTO _slate.alert_attempts (channel, purpose, message_ids,
                         attempted_at, outcome, status_code, response_excerpt, latency_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &attempt.channel,
                        &attempt.purpose,
                        &message_ids,
                        &attempt.attempted_at,
                        &attempt.outcome.as_str(),
                        &attempt.status_code.map(i32::from),
                        &attempt.response_excerpt,
                        &attempt.latency_ms,
                    ],
                )?;
            }
            if let Some(state) = state {
                transaction.execute(ADD_CHANNEL, &[&state.channel])?;
                transaction.execute(
                    "UPDATE _slate.alert_channels SET delivered_through = $2, health = $3,
                         reason = $4, since = $5, consecutive_failures = $6,
                         next_attempt_at = $7, last_sent_at = $8,
                         claimed_by = CASE WHEN claimed_by = $9 THEN NULL ELSE claimed_by END,
                         claimed_until = CASE WHEN claimed_by = $9 THEN NULL
                                              ELSE claimed_until END
                     WHERE channel = $1",
                    &[
                        &state.channel,
                        &state.delivered_through,
                        &state.health.as_str(),
                        &state.reason,
                        &state.since,
                        &state.consecutive_failures,
                        &state.next_attempt_at,
                        &state.last_sent_at,
                        &holder,
                    ],
                )?;
            }
            transaction.commit()?;
            Ok(())
        })
    }

    fn channel_states(&self) -> Result<Vec<ChannelState>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                &format!("SELECT {CHANNEL_COLUMNS} FROM _slate.alert_channels ORDER BY channel"),
                &[],
            )?)
        })?;
        rows.iter().map(channel_from_row).collect()
    }

    fn delivery_attempts(
        &self,
        channel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT channel, purpose, message_ids, attempted_at, outcome, status_code,
                        response_excerpt, latency_ms
                 FROM _slate.alert_attempts WHERE $1::TEXT IS NULL OR channel = $1
                 ORDER BY attempt_id DESC LIMIT $2",
                &[&channel, &(limit as i64)],
            )?)
        })?;
        rows.iter()
            .map(|row| {
                let ids: &str = row.get(2);
                let outcome: &str = row.get(4);
                Ok(DeliveryAttempt {
                    channel: row.get(0),
                    purpose: row.get(1),
                    message_ids: serde_json::from_str(ids)
                        .map_err(|_| unreadable("message ids", ids))?,
                    attempted_at: row.get(3),
                    outcome: outcome
                        .parse()
                        .map_err(|_| unreadable("outcome", outcome))?,
                    status_code: row
                        .get::<_, Option<i32>>(5)
                        .and_then(|code| u16::try_from(code).ok()),
                    response_excerpt: row.get(6),
                    latency_ms: row.get(7),
                })
            })
            .collect()
    }

    fn delivery_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT channel, outcome, COUNT(*) FROM _slate.alert_attempts
                 WHERE purpose IN ('message', 'digest')
                 GROUP BY channel, outcome ORDER BY channel, outcome",
                &[],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get::<_, i64>(2) as u64))
            .collect())
    }
}
