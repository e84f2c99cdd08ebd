//! Alerts that reach a person, with delivery checked.
//!
//! The store records an alert in the same transaction as the state change
//! that raised it (a failed, blocked or reaped run, quarantined rows), so
//! a crash between the two cannot lose one: the outbox pattern. A later
//! success of the same processor for the same date resolves its open
//! alerts. Deploys, phases and the no-rows sweep record theirs through
//! [`crate::store::alerts::AlertOutbox`].
//!
//! - [`event`]: what happened and how bad it is (pure);
//! - [`record`]: what the outbox holds;
//! - [`config`]: the `[alerts]` channels of `slate.toml`;
//! - [`payload`]: what Slack and webhooks are sent (pure);
//! - [`phase`]: `phase_completed` and `phase_incomplete` for a date;
//! - [`sweep`]: scheduled dates still without rows at their deadline;
//! - [`delivery`]: posting, retrying, digests, dead channels and the canary.

pub mod config;
pub mod delivery;
pub mod event;
pub mod payload;
pub mod phase;
pub mod record;
pub mod sweep;

pub use config::{AlertsConfig, AlertsConfigError, Channel, ChannelKind};
pub use delivery::{ChannelOutcome, Deliverer, DeliveryError};
pub use event::{EventKind, NewAlert, Severity};
