//! The alert outbox a run ledger keeps: alerts written in the same
//! transaction as the run state change that raised them, messages waiting
//! for channels, each channel's delivery state, and every attempt.
//!
//! A backend's [`super::RunLedger::end_run`], `commit_run` and `reap_stale`
//! record their alerts themselves, so a crash between the state change and
//! the alert cannot lose one. This trait is the rest: events that are not a
//! run's (deploys, phases, sweeps), and what the deliverer reads and writes.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::alerts::event::{EventKind, NewAlert};
use crate::alerts::record::{AlertRecord, ChannelState, DeliveryAttempt, OutboxMessage};

/// What a claim on a channel came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelClaim {
    /// Claimed: the channel's state.
    Claimed(ChannelState),
    /// Another deliverer holds it.
    HeldBy(String),
}

/// How many open alerts [`AlertOutbox::resolve_open_alerts`] reads at most.
const OPEN_ALERTS_READ: usize = 100_000;

/// A limit of [`AlertOutbox::alerts`] that every backend takes as none
/// (a SQL `LIMIT` is a signed 64-bit number).
pub const EVERY_ALERT: usize = i64::MAX as usize;

/// The outbox and the delivery state of alert channels.
pub trait AlertOutbox: Send + Sync {
    /// Records an event that no run state change carries: a deploy, a
    /// phase, a sweep. Returns the alert it opened or repeated, or `None`
    /// when a once-ever event was already recorded.
    fn record_alert(&self, alert: &NewAlert) -> Result<Option<i64>, StoreError>;

    /// Alerts, newest first; only open ones with `open_only`.
    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<AlertRecord>, StoreError>;

    /// The alerts of `event` that are open or were resolved by hand
    /// ([`RESOLVED_BY_HAND`]), newest first: the dates the no-rows sweep
    /// must not raise again. Read in the store, not from every alert ever
    /// raised, which the sweep would otherwise read once a minute.
    ///
    /// [`RESOLVED_BY_HAND`]: crate::alerts::record::RESOLVED_BY_HAND
    fn open_or_resolved_by_hand(&self, event: EventKind) -> Result<Vec<AlertRecord>, StoreError>;

    /// Resolves an open alert by hand (`by` says who) and queues its
    /// resolved message. Returns false when it is not open.
    fn resolve_alert(&self, alert_id: i64, by: &str) -> Result<bool, StoreError>;

    /// Resolves every open alert `matching` says to (`by` says who),
    /// as [`AlertOutbox::resolve_alert`] does; how many it resolved. For
    /// alerts nothing else will resolve: a processor gone, a file deployed.
    fn resolve_open_alerts(
        &self,
        matching: &dyn Fn(&AlertRecord) -> bool,
        by: &str,
    ) -> Result<usize, StoreError> {
        let mut resolved = 0;
        for alert in self.alerts(true, OPEN_ALERTS_READ)? {
            if matching(&alert) && self.resolve_alert(alert.alert_id, by)? {
                resolved += 1;
            }
        }
        Ok(resolved)
    }

    /// Records each of `channels` not yet known as joining now: after the
    /// last message recorded, of which it is to be sent only those of
    /// alerts open now ([`ChannelState::wants`]). A command adds its
    /// `slate.toml`'s channels before it does anything, so that what it
    /// raises and resolves itself goes to them.
    fn add_channels(&self, channels: &[&str]) -> Result<(), StoreError>;

    /// Messages after `after`, oldest first, at most `limit`.
    fn messages_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Claims the right to deliver to `channel` until `until`, so that two
    /// deliverers (a server and a command) never send the same message.
    /// A live claim of another holder is taken only if it is
    /// `take_over_from` (a holder known to be gone). A channel never seen
    /// is added as [`AlertOutbox::add_channels`] adds it. A store shared
    /// by several machines (PostgreSQL) reads the claim's expiry by its own
    /// clock, the claim lasting `until - now`: a host whose clock is ahead
    /// neither keeps a claim past its length nor takes a live one.
    fn claim_channel(
        &self,
        channel: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        take_over_from: Option<&str>,
    ) -> Result<ChannelClaim, StoreError>;

    /// In one transaction: records `attempt` (if any), writes the channel's
    /// new `state` and releases `holder`'s claim (if a state is given: a
    /// holder without the claim records its attempt only).
    fn finish_delivery(
        &self,
        holder: &str,
        attempt: Option<&DeliveryAttempt>,
        state: Option<&ChannelState>,
    ) -> Result<(), StoreError>;

    /// Every channel's recorded state.
    fn channel_states(&self) -> Result<Vec<ChannelState>, StoreError>;

    /// Attempts, newest first, of one channel or all, at most `limit`.
    fn delivery_attempts(
        &self,
        channel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryAttempt>, StoreError>;

    /// Attempts per (channel, outcome), for the delivery metric.
    fn delivery_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError>;
}
