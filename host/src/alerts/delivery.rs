//! Delivering the outbox: each channel takes the messages after its cursor
//! that route to it, posts them (one message, or a digest of a backlog),
//! records the attempt, and moves its cursor only when the post succeeded.
//!
//! The decisions are pure functions ([`classify`], [`backoff`],
//! [`after_attempt`], [`canary_verdict`]); [`Deliverer`] does the I/O. A
//! channel is claimed in the store before it is posted to, so a server and
//! a command never send the same message twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::config::{AlertsConfig, Channel, ChannelKind};
use super::record::{AttemptOutcome, ChannelHealth, ChannelState, DeliveryAttempt, OutboxMessage};
use super::{event, payload};
use crate::liveness::is_dead_incarnation;
use crate::store::alerts::{AlertOutbox, ChannelClaim};
use crate::store::{Store, StoreError};

/// How many messages one post carries at most; a larger backlog goes in
/// several digests.
pub const MAX_MESSAGES_PER_POST: usize = 1000;

/// The largest body one post sends: a backlog past it goes as several
/// digests, so a receiver with a body limit (nginx's is 1 MiB) is never
/// sent, again and again, one it refuses.
pub const MAX_POST_BYTES: usize = 256 * 1024;

/// The longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How much of a response body an attempt records.
pub const EXCERPT_CHARS: usize = 200;

/// How much longer than a post's timeout a deliverer's claim holds.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);

/// The first of `routed` whose payload fits in [`MAX_POST_BYTES`] (at
/// least one message), that payload, and the message id the channel's
/// cursor moves to once it is delivered: `last` when every message fits,
/// else the last one sent, so the rest go in the next post.
fn fit_in_one_post(
    kind: ChannelKind,
    mut routed: Vec<OutboxMessage>,
    last: i64,
) -> (Vec<OutboxMessage>, serde_json::Value, i64) {
    let mut through = last;
    loop {
        let body = payload::render(kind, &routed);
        if routed.len() == 1 || body.to_string().len() <= MAX_POST_BYTES {
            return (routed, body, through);
        }
        routed.truncate(routed.len() / 2);
        through = routed.last().map_or(last, |m| m.message_id);
    }
}

/// How many messages wait for `channel` in `state` (of the next 10,000
/// in the outbox): what `slate alerts` lists and a stop leaves queued.
pub fn queued_for(
    outbox: &dyn AlertOutbox,
    channel: &Channel,
    state: &ChannelState,
) -> Result<usize, StoreError> {
    Ok(outbox
        .messages_after(state.delivered_through, 10_000)?
        .iter()
        .filter(|message| destined_for(channel, state, message))
        .count())
}

/// Whether `message` goes to `channel` in `state`: routed there by its
/// event and severity, not history from before the channel appeared
/// ([`ChannelState::wants`]), and not the news of its own death.
pub fn destined_for(channel: &Channel, state: &ChannelState, message: &OutboxMessage) -> bool {
    let raised = &message.alert.raised;
    state.wants(message)
        && channel.routes(raised.event, raised.severity)
        && !raised.is_death_of(&channel.name)
}

/// What an HTTP status means for delivery: 2xx delivered; 429 retried; a
/// redirect or any other 4xx refused for good; 5xx, or no response at
/// all, retried.
pub fn classify(status: Option<u16>) -> AttemptOutcome {
    match status {
        Some(200..=299) => AttemptOutcome::Delivered,
        Some(429) => AttemptOutcome::Retry,
        // A redirect is not followed: a POST followed as a GET delivered
        // nothing, yet the GET's 200 counted as delivery. The URL is wrong.
        Some(300..=499) => AttemptOutcome::Permanent,
        _ => AttemptOutcome::Retry,
    }
}

/// The wait before retry number `failures` (1 after the first failure):
/// exponential from 1 s, capped at [`MAX_BACKOFF`], with `jitter` in
/// `[0, 1)` taking up to half of it away so that hosts do not retry in step.
pub fn backoff(failures: i64, jitter: f64) -> Duration {
    let exponent = failures.clamp(1, 20) - 1;
    let full = Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF);
    full.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// What one attempt came to, as the state update needs it.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// Its outcome.
    pub outcome: AttemptOutcome,
    /// The HTTP status, if any.
    pub status: Option<u16>,
    /// The start of the body, or the transport error.
    pub excerpt: String,
    /// A 429's `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    /// The last message the post carried (or skipped as not routed).
    pub through: i64,
}

/// Why a channel failed, in a few words: "404 no_service", "timed out".
pub fn failure_reason(status: Option<u16>, excerpt: &str) -> String {
    let excerpt = excerpt.lines().next().unwrap_or("").trim();
    match status {
        Some(code) if excerpt.is_empty() => code.to_string(),
        Some(code) => format!("{code} {excerpt}"),
        None => excerpt.to_string(),
    }
}

/// The channel's state after an attempt.
pub fn after_attempt(
    state: &ChannelState,
    channel: &Channel,
    result: &AttemptResult,
    check_interval: Duration,
    jitter: f64,
    now: DateTime<Utc>,
) -> ChannelState {
    let mut next = state.clone();
    match result.outcome {
        AttemptOutcome::Delivered => {
            next.delivered_through = result.through;
            next.health = ChannelHealth::Up;
            next.reason = None;
            next.since = None;
            next.consecutive_failures = 0;
            next.next_attempt_at = None;
            next.last_sent_at = Some(now);
        }
        AttemptOutcome::Retry | AttemptOutcome::Permanent => {
            next.consecutive_failures += 1;
            next.reason = Some(failure_reason(result.status, &result.excerpt));
            next.since = state.since.or(Some(now));
            // Dead stays dead until a delivery: a retryable failure of a
            // channel that died of a permanent one (a 404, then 500s) is
            // no sign of life.
            let dead = state.health == ChannelHealth::Dead
                || result.outcome == AttemptOutcome::Permanent
                || next.consecutive_failures >= i64::from(channel.dead_after_failures);
            next.health = if dead {
                ChannelHealth::Dead
            } else {
                ChannelHealth::Failing
            };
            // A `Retry-After` waits at most as long as the backoff would: a
            // receiver asking for a year would hold every alert that long
            // with the channel never counted dead.
            let wait = if result.outcome == AttemptOutcome::Permanent {
                check_interval
            } else {
                result.retry_after.map_or_else(
                    || backoff(next.consecutive_failures, jitter),
                    |asked| asked.min(MAX_BACKOFF),
                )
            };
            let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
            next.next_attempt_at = Some(
                now.checked_add_signed(wait)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            );
        }
    }
    next
}

/// What a canary's answer says about a channel: up, or dead with why.
/// A Slack hook that exists refuses the empty probe with 400
/// `invalid_payload` (or `no_text`); a deleted one answers 404
/// `no_service`, an archived channel 410 `channel_is_archived`. A webhook
/// is up when it answers 2xx.
pub fn canary_verdict(kind: ChannelKind, status: Option<u16>, body: &str) -> AttemptOutcome {
    match kind {
        ChannelKind::Slack => match status {
            Some(400) if body.contains("invalid_payload") || body.contains("no_text") => {
                AttemptOutcome::Delivered
            }
            Some(200..=299) => AttemptOutcome::Delivered,
            other => classify(other),
        },
        ChannelKind::Webhook => classify(status),
    }
}

/// A post's answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status, if a response came.
    pub status: Option<u16>,
    /// The start of the body, or the error (never with the URL).
    pub excerpt: String,
    /// A `Retry-After` in seconds.
    pub retry_after: Option<Duration>,
    /// How long it took.
    pub latency: Duration,
}

impl Response {
    /// The record of this answer to a post of `purpose` to `channel` at
    /// `attempted_at`, carrying `message_ids`.
    fn attempt(
        &self,
        channel: &Channel,
        purpose: &str,
        message_ids: Vec<i64>,
        attempted_at: DateTime<Utc>,
        outcome: AttemptOutcome,
    ) -> DeliveryAttempt {
        DeliveryAttempt {
            channel: channel.name.clone(),
            purpose: purpose.to_string(),
            message_ids,
            attempted_at,
            outcome,
            status_code: self.status,
            response_excerpt: self.excerpt.clone(),
            latency_ms: self.latency.as_millis() as i64,
        }
    }

    /// What the answer means for a channel's state, the post having
    /// carried (or skipped) the messages up to `through`.
    fn result(self, outcome: AttemptOutcome, through: i64) -> AttemptResult {
        AttemptResult {
            outcome,
            status: self.status,
            excerpt: self.excerpt,
            retry_after: self.retry_after,
            through,
        }
    }
}

/// What one pass of delivery did for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelOutcome {
    /// Nothing was routed to it.
    Idle,
    /// Another deliverer holds it.
    Busy,
    /// Not yet: backoff, a rate limit or a dead channel's wait.
    Waiting {
        /// Messages routed to it and not yet delivered.
        queued: usize,
        /// Until when.
        until: DateTime<Utc>,
        /// Whether the channel is dead (its wait is the next probe's).
        dead: bool,
    },
    /// Posted.
    Delivered {
        /// Messages it carried.
        messages: usize,
    },
    /// The post failed.
    Failed {
        /// Messages that stay queued.
        queued: usize,
        /// Why.
        reason: String,
        /// Whether the channel is now dead.
        dead: bool,
    },
}

/// Posts alerts to channels and records every attempt.
pub struct Deliverer {
    store: Arc<dyn Store>,
    config: AlertsConfig,
    client: reqwest::Client,
    holder: String,
    /// Per channel, held while this deliverer posts to it or probes it. A
    /// store claim keeps other processes out, but lets this one in again:
    /// without this, a probe beside a post wrote back the cursor it read
    /// before the post moved it, and the messages went again.
    in_use: std::collections::HashMap<String, tokio::sync::Mutex<()>>,
    /// Set when a channel's death or return was recorded as an alert for
    /// the others ([`Deliverer::record_health_change`]): a drain then goes
    /// round again, so the news leaves with the command.
    announced: std::sync::atomic::AtomicBool,
    /// Set by [`Deliverer::stop`]: the continuous loops end.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// Why the deliverer cannot work.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Channels are configured but the store keeps no outbox.
    #[error(
        "alert channels are configured, but this store keeps no alert outbox: keep run state in the embedded store or in PostgreSQL (--state)"
    )]
    NoOutbox,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// No channel of that name.
    #[error("no alert channel named `{0}` in [alerts]")]
    NoSuchChannel(String),
}

impl Deliverer {
    /// A deliverer for `config`'s channels over `store`'s outbox; `holder`
    /// names this process in channel claims.
    pub fn new(
        store: Arc<dyn Store>,
        config: AlertsConfig,
        holder: &str,
    ) -> Result<Self, DeliveryError> {
        if !config.channels.is_empty() && store.alert_outbox().is_none() {
            return Err(DeliveryError::NoOutbox);
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DeliveryError::Client(e.without_url().to_string()))?;
        let in_use = (config.channels.iter())
            .map(|channel| (channel.name.clone(), tokio::sync::Mutex::new(())))
            .collect();
        Ok(Deliverer {
            store,
            config,
            client,
            holder: holder.to_string(),
            in_use,
            announced: std::sync::atomic::AtomicBool::new(false),
            stopping: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Asks the continuous loops ([`Deliverer::deliver_continuously`],
    /// [`Deliverer::check_continuously`]) to end: at once where they wait,
    /// and after it where a post or a probe is in flight. A post is never
    /// cut short: its receiver may have taken it, and it would go again.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Whether [`Deliverer::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Waits until [`Deliverer::stop`] is called.
    pub async fn until_stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }

    /// Waits `wait`, or less if [`Deliverer::stop`] is called meanwhile:
    /// whether the loop goes on.
    async fn wait_unless_stopped(&self, wait: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(wait) => !self.is_stopping(),
            () = self.until_stopped() => false,
        }
    }

    /// For each channel with messages still to send, how many
    /// ([`queued_for`]): what a stop leaves queued, said without posting.
    pub fn queued(&self) -> Result<Vec<(String, usize)>, DeliveryError> {
        let outbox = self.outbox()?;
        let mut queued = Vec::new();
        for state in outbox.channel_states()? {
            let Some(channel) = self.config.channel(&state.channel) else {
                continue;
            };
            let count = queued_for(outbox, channel, &state)?;
            if count > 0 {
                queued.push((state.channel.clone(), count));
            }
        }
        Ok(queued)
    }

    /// The configuration it delivers by.
    pub fn config(&self) -> &AlertsConfig {
        &self.config
    }

    fn outbox(&self) -> Result<&dyn AlertOutbox, DeliveryError> {
        self.store.alert_outbox().ok_or(DeliveryError::NoOutbox)
    }

    /// The channel's state after an attempt that came to `result`.
    fn state_after(
        &self,
        state: &ChannelState,
        channel: &Channel,
        result: &AttemptResult,
    ) -> ChannelState {
        after_attempt(
            state,
            channel,
            result,
            self.config.check_interval,
            jitter(),
            Utc::now(),
        )
    }

    /// Claims `channel` for one attempt; a claim left by a previous
    /// incarnation of this host (killed mid-post) is taken over at once.
    fn claim(&self, channel: &str) -> Result<Option<ChannelState>, DeliveryError> {
        let outbox = self.outbox()?;
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(self.claim_length()).unwrap_or_default();
        match outbox.claim_channel(channel, &self.holder, until, now, None)? {
            ChannelClaim::Claimed(state) => Ok(Some(state)),
            ChannelClaim::HeldBy(holder) if is_dead_incarnation(&holder, &self.holder) => {
                match outbox.claim_channel(channel, &self.holder, until, now, Some(&holder))? {
                    ChannelClaim::Claimed(state) => Ok(Some(state)),
                    ChannelClaim::HeldBy(_) => Ok(None),
                }
            }
            ChannelClaim::HeldBy(_) => Ok(None),
        }
    }

    /// How long a claim holds: longer than one post may take.
    fn claim_length(&self) -> Duration {
        self.config.timeout + CLAIM_MARGIN
    }

    /// One pass: every channel posts what is due to it, all at once, so
    /// that a receiver that hangs until the timeout holds up no other
    /// channel (a dead webhook delayed the pager by the whole timeout).
    pub async fn deliver_due(&self) -> Result<Vec<(String, ChannelOutcome)>, DeliveryError> {
        let passes = self.config.channels.iter().map(|channel| async move {
            let outcome = self.deliver_channel(channel).await?;
            Ok((channel.name.clone(), outcome))
        });
        futures::future::join_all(passes)
            .await
            .into_iter()
            .collect()
    }

    /// Delivers to every channel until [`Deliverer::stop`] (or the future
    /// is dropped), each channel on its own: it posts again at once while
    /// a backlog remains, else looks again after `tick`. A channel whose
    /// receiver hangs until the timeout delays only itself: the others go
    /// on posting what comes meanwhile. (Passes over all channels together
    /// made every channel's next post wait for the slowest one's.)
    /// Failures are logged, without any URL, and tried again after `tick`.
    pub async fn deliver_continuously(&self, tick: Duration) {
        let loops = self.config.channels.iter().map(|channel| async move {
            while !self.is_stopping() {
                match self.deliver_channel(channel).await {
                    Ok(ChannelOutcome::Delivered { .. }) => continue,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(channel = %channel.name, %error, "alert delivery failed");
                    }
                }
                if !self.wait_unless_stopped(tick).await {
                    break;
                }
            }
        });
        futures::future::join_all(loops).await;
    }

    /// Probes every channel every `interval` ([`Deliverer::check_channels`])
    /// until [`Deliverer::stop`] (or the future is dropped), each channel
    /// on its own, so that a probe that hangs delays no other channel's. A channel this
    /// deliverer is posting to is not probed then.
    pub async fn check_continuously(&self, interval: Duration) {
        let loops = self.config.channels.iter().map(|channel| async move {
            while self.wait_unless_stopped(interval).await {
                if let Err(error) = self.check_channel(channel).await {
                    tracing::warn!(channel = %channel.name, %error, "alert channel check failed");
                }
            }
        });
        futures::future::join_all(loops).await;
    }

    /// Delivers to every channel, each on its own, until nothing is left to
    /// send or `deadline` (waiting out a backoff or a rate limit that ends
    /// by then). For each channel: how many messages it delivered, and its
    /// last outcome (`Idle` when it drained). A channel that dies (or comes
    /// back) meanwhile records that for the others, which may have drained
    /// already: they then drain again, so the news goes out with the
    /// command.
    pub async fn drain_until(
        &self,
        deadline: DateTime<Utc>,
    ) -> Result<Vec<(String, usize, ChannelOutcome)>, DeliveryError> {
        let mut drained: Vec<(String, usize, ChannelOutcome)> = (self.config.channels.iter())
            .map(|channel| (channel.name.clone(), 0, ChannelOutcome::Idle))
            .collect();
        // Each round after the first follows news of a channel in the one
        // before: its death, or its return.
        for _round in 0..=2 * self.config.channels.len() {
            self.announced
                .store(false, std::sync::atomic::Ordering::SeqCst);
            let rounds = (self.config.channels.iter())
                .map(|channel| self.drain_channel_until(channel, deadline));
            for (total, round) in drained
                .iter_mut()
                .zip(futures::future::join_all(rounds).await)
            {
                let (delivered, outcome) = round?;
                total.1 += delivered;
                total.2 = outcome;
            }
            if !self.announced.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
        }
        Ok(drained)
    }

    /// [`Deliverer::drain_until`] for one channel: how many messages it
    /// delivered, and its last outcome.
    async fn drain_channel_until(
        &self,
        channel: &Channel,
        deadline: DateTime<Utc>,
    ) -> Result<(usize, ChannelOutcome), DeliveryError> {
        let mut delivered = 0;
        loop {
            let outcome = self.deliver_channel(channel).await?;
            let wait_until = match &outcome {
                // A post may carry part of a backlog: ask again at once.
                ChannelOutcome::Delivered { messages } => {
                    delivered += messages;
                    Some(Utc::now())
                }
                ChannelOutcome::Waiting { until, .. } => Some(*until),
                ChannelOutcome::Failed { dead: false, .. } => Some(Utc::now()),
                _ => None,
            };
            match wait_until {
                Some(until) if until <= deadline && Utc::now() < deadline => {
                    let wait = (until - Utc::now()).to_std().unwrap_or_default();
                    // A wait the reader would notice is said, so that a
                    // command or a stopping server does not hang unexplained.
                    if let ChannelOutcome::Waiting { queued, .. } = &outcome
                        && wait >= Duration::from_secs(1)
                    {
                        tracing::warn!(
                            channel = %channel.name,
                            queued,
                            "waiting {:.0} s for the channel's rate limit or backoff to deliver",
                            wait.as_secs_f64()
                        );
                    }
                    if !wait.is_zero() {
                        tokio::time::sleep(wait + Duration::from_millis(10)).await;
                    }
                }
                _ => return Ok((delivered, outcome)),
            }
        }
    }

    /// Tells the other channels that `channel` died, and that it is back,
    /// as its state goes from `before` to `after`: an attempt that leaves
    /// it dead records its `alert_channel_dead` (a repeat counts up), and
    /// one that finds a dead channel up resolves it. Called before the new
    /// state is written, so that the next attempt makes good a crash
    /// between the two.
    fn record_health_change(
        &self,
        channel: &Channel,
        before: &ChannelState,
        after: &ChannelState,
    ) -> Result<(), DeliveryError> {
        let outbox = self.outbox()?;
        match after.health {
            ChannelHealth::Dead => {
                let reason = after.reason.as_deref().unwrap_or("no answer");
                let death = event::for_dead_channel(
                    &channel.name,
                    reason,
                    after.since,
                    after.consecutive_failures,
                );
                outbox.record_alert(&death)?;
                // A repeat only counts up: news only the first time.
                if before.health != ChannelHealth::Dead {
                    self.announced
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            ChannelHealth::Up if before.health == ChannelHealth::Dead => {
                let resolved = outbox.resolve_open_alerts(
                    &|alert| alert.raised.is_death_of(&channel.name),
                    "the channel answered again",
                )?;
                if resolved > 0 {
                    self.announced
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            ChannelHealth::Up | ChannelHealth::Failing => {}
        }
        Ok(())
    }

    async fn deliver_channel(&self, channel: &Channel) -> Result<ChannelOutcome, DeliveryError> {
        let _posting = self.in_use[&channel.name].lock().await;
        let outbox = self.outbox()?;
        let now = Utc::now();
        let Some(state) = self.claim(&channel.name)? else {
            return Ok(ChannelOutcome::Busy);
        };
        let messages = outbox.messages_after(state.delivered_through, MAX_MESSAGES_PER_POST)?;
        let Some(last) = messages.last().map(|m| m.message_id) else {
            outbox.finish_delivery(&self.holder, None, Some(&state))?;
            return Ok(ChannelOutcome::Idle);
        };
        let routed: Vec<_> = messages
            .into_iter()
            .filter(|m| destined_for(channel, &state, m))
            .collect();
        if routed.is_empty() {
            let skipped = ChannelState {
                delivered_through: last,
                ..state
            };
            outbox.finish_delivery(&self.holder, None, Some(&skipped))?;
            return Ok(ChannelOutcome::Idle);
        }
        // Times another host wrote by its own clock: one ahead of this
        // one's must not hold the channel longer than a wait it could
        // set (a post sent "later than now" was sent now).
        let rate_limited = state.last_sent_at.map(|sent| {
            sent.min(now) + chrono::Duration::from_std(channel.min_interval()).unwrap_or_default()
        });
        let longest_wait = chrono::Duration::from_std(MAX_BACKOFF.max(self.config.check_interval))
            .unwrap_or(chrono::Duration::MAX);
        let retry_at = state
            .next_attempt_at
            .map(|at| at.min(now.checked_add_signed(longest_wait).unwrap_or(at)));
        let due = [retry_at, rate_limited]
            .into_iter()
            .flatten()
            .max()
            .filter(|at| *at > now);
        if let Some(until) = due {
            outbox.finish_delivery(&self.holder, None, Some(&state))?;
            return Ok(ChannelOutcome::Waiting {
                queued: routed.len(),
                until,
                dead: state.health == ChannelHealth::Dead,
            });
        }
        let queued = routed.len();
        let (routed, body, last) = fit_in_one_post(channel.kind, routed, last);
        let response = self.post(channel, Some(&body)).await;
        let outcome = classify(response.status);
        let purpose = if routed.len() == 1 {
            "message"
        } else {
            "digest"
        };
        let message_ids = routed.iter().map(|m| m.message_id).collect();
        let attempt = response.attempt(channel, purpose, message_ids, now, outcome);
        let next = self.state_after(&state, channel, &response.result(outcome, last));
        self.record_health_change(channel, &state, &next)?;
        outbox.finish_delivery(&self.holder, Some(&attempt), Some(&next))?;
        Ok(match outcome {
            AttemptOutcome::Delivered => {
                tracing::info!(channel = %channel.name, messages = routed.len(), "alerts delivered");
                ChannelOutcome::Delivered {
                    messages: routed.len(),
                }
            }
            AttemptOutcome::Retry | AttemptOutcome::Permanent => {
                let reason = next.reason.clone().unwrap_or_default();
                tracing::warn!(channel = %channel.name, %reason, "alert delivery failed");
                ChannelOutcome::Failed {
                    queued,
                    reason,
                    dead: next.health == ChannelHealth::Dead,
                }
            }
        })
    }

    /// Probes every channel without posting a visible message where the
    /// service allows it, and records what it found: a channel that answers
    /// comes back up, or, with alerts queued that it failed to take, has
    /// them tried on the next pass, whose delivery brings it back; one
    /// that is gone is marked dead. A channel another deliverer holds (it
    /// is posting to it now) is not probed: its attempt is `None`.
    pub async fn check_channels(
        &self,
    ) -> Result<Vec<(String, Option<DeliveryAttempt>)>, DeliveryError> {
        // All at once, as deliveries are: a hanging channel holds up none.
        let checks = (self.config.channels.iter()).map(|channel| async move {
            Ok((channel.name.clone(), self.check_channel(channel).await?))
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .collect()
    }

    /// Probes one channel ([`Deliverer::check_channels`]); `None` when
    /// another deliverer holds it.
    async fn check_channel(
        &self,
        channel: &Channel,
    ) -> Result<Option<DeliveryAttempt>, DeliveryError> {
        // This deliverer posting to it now is holding it, as another would.
        let Ok(_probing) = self.in_use[&channel.name].try_lock() else {
            return Ok(None);
        };
        let outbox = self.outbox()?;
        let now = Utc::now();
        let Some(state) = self.claim(&channel.name)? else {
            return Ok(None);
        };
        let probe = payload::canary(channel.kind);
        let response = self.post(channel, probe.as_ref()).await;
        let outcome = canary_verdict(channel.kind, response.status, &response.excerpt);
        let attempt = response.attempt(channel, "canary", Vec::new(), now, outcome);
        let next = match outcome {
            // Answering with alerts queued that it failed to take: a
            // receiver may take a canary and refuse every alert, so only a
            // delivery brings it back, tried on the next pass. Before,
            // each canary revived such a channel, and its death was
            // resolved and raised again every check interval.
            AttemptOutcome::Delivered
                if state.health != ChannelHealth::Up && self.has_queued(channel, &state)? =>
            {
                ChannelState {
                    next_attempt_at: None,
                    ..state.clone()
                }
            }
            // Up again, with nothing queued to prove it otherwise.
            AttemptOutcome::Delivered => ChannelState {
                health: ChannelHealth::Up,
                reason: None,
                since: None,
                consecutive_failures: 0,
                next_attempt_at: None,
                ..state.clone()
            },
            AttemptOutcome::Retry | AttemptOutcome::Permanent => {
                let through = state.delivered_through;
                self.state_after(&state, channel, &response.result(outcome, through))
            }
        };
        self.record_health_change(channel, &state, &next)?;
        outbox.finish_delivery(&self.holder, Some(&attempt), Some(&next))?;
        Ok(Some(attempt))
    }

    /// Whether messages for `channel` wait past its cursor.
    fn has_queued(&self, channel: &Channel, state: &ChannelState) -> Result<bool, DeliveryError> {
        let waiting = self
            .outbox()?
            .messages_after(state.delivered_through, MAX_MESSAGES_PER_POST)?;
        Ok(waiting.iter().any(|m| destined_for(channel, state, m)))
    }

    /// Sends a visible test message to one channel and returns the
    /// recorded attempt. It moves no cursor and changes no health.
    pub async fn send_test(&self, name: &str) -> Result<DeliveryAttempt, DeliveryError> {
        let channel = self
            .config
            .channel(name)
            .ok_or_else(|| DeliveryError::NoSuchChannel(name.to_string()))?;
        let outbox = self.outbox()?;
        let now = Utc::now();
        let body = payload::test_message(channel.kind, &channel.name);
        let response = self.post(channel, Some(&body)).await;
        let attempt = response.attempt(channel, "test", Vec::new(), now, classify(response.status));
        // The state is written back unchanged, releasing the claim; when
        // another deliverer holds the channel, only the attempt is recorded.
        let _recording = self.in_use[&channel.name].lock().await;
        let state = self.claim(&channel.name)?;
        outbox.finish_delivery(&self.holder, Some(&attempt), state.as_ref())?;
        Ok(attempt)
    }

    /// Posts `body` (or an empty body) to `channel`. Errors never carry the
    /// URL: it is a secret.
    async fn post(&self, channel: &Channel, body: Option<&Value>) -> Response {
        let started = Instant::now();
        let mut request = self
            .client
            .post(channel.url.expose())
            .header("content-type", "application/json");
        for (name, value) in &channel.headers {
            request = request.header(name.as_str(), value.expose());
        }
        request = match body {
            Some(body) => request.body(body.to_string()),
            None => request.body(""),
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let text = response
                    .text()
                    .await
                    .unwrap_or_else(|e| format!("unreadable body: {}", e.without_url()));
                // A receiver may echo the request (a 404 quoting its path):
                // redacted before it is cut, so no part of a secret stays.
                Response {
                    status: Some(status),
                    excerpt: redact(&text, channel).chars().take(EXCERPT_CHARS).collect(),
                    retry_after,
                    latency: started.elapsed(),
                }
            }
            Err(error) => {
                let kind = if error.is_timeout() {
                    "timed out"
                } else if error.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                };
                let error = error.without_url();
                // Every cause: "client error (Connect)" alone does not say
                // whether the name did not resolve or the port refused.
                let mut detail = String::new();
                let mut cause = std::error::Error::source(&error);
                while let Some(source) = cause {
                    detail.push_str(&format!(": {source}"));
                    cause = source.source();
                }
                Response {
                    status: None,
                    excerpt: redact(&format!("{kind}{detail}"), channel),
                    retry_after: None,
                    latency: started.elapsed(),
                }
            }
        }
    }
}

/// `text` with the channel's secrets blanked out, in case a lower layer or
/// the receiver quoted them: the URL, its path and query, and each of
/// their parts, and the header values.
fn redact(text: &str, channel: &Channel) -> String {
    let url = channel.url.expose();
    let mut secrets = vec![url.to_string()];
    if let Ok(parsed) = url::Url::parse(url) {
        let path_and_query = &parsed[url::Position::BeforePath..];
        secrets.push(path_and_query.to_string());
        secrets.extend(
            path_and_query
                .split(['/', '?', '&', '='])
                .map(str::to_string),
        );
    }
    secrets.extend(channel.headers.iter().map(|(_, v)| v.expose().to_string()));
    // The longest first: a part is not blanked inside a whole already
    // blanked.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    let mut text = text.to_string();
    for secret in &secrets {
        text = blank_out(&text, secret);
    }
    text
}

/// The shortest secret blanked wherever it stands; a shorter one is
/// blanked only where it stands alone, not inside a word, which it would
/// garble and so give away ("in<secret>alid" for the value `v`).
const SECRET_ANYWHERE_LEN: usize = 8;

/// `text` with `secret` replaced by `<secret>`: anywhere when it is long,
/// only as a whole word when it is short. Below 4 characters (`/`, `api`)
/// nothing is secret.
fn blank_out(text: &str, secret: &str) -> String {
    if secret.len() >= SECRET_ANYWHERE_LEN {
        return text.replace(secret, "<secret>");
    }
    if secret.chars().count() < 4 {
        return text.to_string();
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(secret) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + secret.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_word) || after.is_some_and(is_word) {
            out.push_str(secret);
        } else {
            out.push_str("<secret>");
        }
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    out
}

/// A fraction in `[0, 1)` for backoff jitter.
fn jitter() -> f64 {
    let seed = Utc::now().timestamp_subsec_nanos() as u64 ^ u64::from(std::process::id());
    rand::rngs::StdRng::seed_from_u64(seed).random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::config::Secret;
    use crate::alerts::event::Severity;

    fn channel() -> Channel {
        Channel {
            name: "ops".into(),
            kind: ChannelKind::Webhook,
            url: Secret::new("http://127.0.0.1:1/hook"),
            headers: Vec::new(),
            events: Vec::new(),
            min_severity: Severity::Info,
            max_per_minute: 6,
            dead_after_failures: 3,
            unset_env: Vec::new(),
        }
    }

    /// `state` after the attempt `result` on [`channel`] at `now`, checked
    /// every 5 minutes, without jitter.
    fn attempted(state: &ChannelState, result: &AttemptResult, now: DateTime<Utc>) -> ChannelState {
        after_attempt(
            state,
            &channel(),
            result,
            Duration::from_secs(300),
            0.0,
            now,
        )
    }

    /// A receiver's answer that echoes the secret path, or any part of it,
    /// is blanked; a short header value is blanked where it stands alone
    /// and never inside a word, which it would garble and give away.
    #[test]
    fn what_is_quoted_of_an_attempt_blanks_every_part_of_the_secrets() {
        let channel = Channel {
            url: Secret::new("https://hooks.example/services/T0KEN123/hook?sig=abcd1234"),
            headers: vec![
                ("X-Key".into(), Secret::new("v")),
                ("X-Pin".into(), Secret::new("4567")),
            ],
            ..channel()
        };
        let said = redact(
            "no endpoint at /services/T0KEN123/hook?sig=abcd1234; token T0KEN123, sig abcd1234, \
             invalid pin 4567 (not 45678)",
            &channel,
        );
        assert_eq!(
            said,
            "no endpoint at <secret>; token <secret>, sig <secret>, invalid pin <secret> (not 45678)"
        );
    }

    fn result(outcome: AttemptOutcome, status: Option<u16>, excerpt: &str) -> AttemptResult {
        AttemptResult {
            outcome,
            status,
            excerpt: excerpt.into(),
            retry_after: None,
            through: 9,
        }
    }

    #[test]
    fn statuses_are_delivered_retried_or_refused_for_good() {
        assert_eq!(classify(Some(200)), AttemptOutcome::Delivered);
        assert_eq!(classify(Some(204)), AttemptOutcome::Delivered);
        assert_eq!(classify(Some(429)), AttemptOutcome::Retry);
        assert_eq!(classify(Some(404)), AttemptOutcome::Permanent);
        assert_eq!(classify(Some(410)), AttemptOutcome::Permanent);
        assert_eq!(classify(Some(301)), AttemptOutcome::Permanent);
        assert_eq!(classify(Some(308)), AttemptOutcome::Permanent);
        assert_eq!(classify(Some(500)), AttemptOutcome::Retry);
        assert_eq!(classify(None), AttemptOutcome::Retry);
    }

    #[test]
    fn backoff_doubles_from_a_second_up_to_five_minutes_and_jitter_only_shortens_it() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(5, 0.0), Duration::from_secs(16));
        assert_eq!(backoff(30, 0.0), MAX_BACKOFF);
        assert!(backoff(5, 0.999) >= Duration::from_secs(8));
        assert!(backoff(5, 0.5) < backoff(5, 0.0));
    }

    #[test]
    fn a_delivery_moves_the_cursor_and_a_failure_keeps_it() {
        let now = Utc::now();
        let state = ChannelState::new("ops");
        let delivered = attempted(
            &state,
            &result(AttemptOutcome::Delivered, Some(200), "ok"),
            now,
        );
        assert_eq!(delivered.delivered_through, 9);
        assert_eq!(delivered.last_sent_at, Some(now));
        let failed = attempted(
            &state,
            &result(AttemptOutcome::Retry, Some(503), "busy"),
            now,
        );
        assert_eq!(failed.delivered_through, 0);
        assert_eq!(failed.health, ChannelHealth::Failing);
        assert_eq!(failed.reason.as_deref(), Some("503 busy"));
        assert_eq!(
            failed.next_attempt_at,
            Some(now + chrono::Duration::seconds(1))
        );
    }

    #[test]
    fn a_permanent_refusal_or_too_many_failures_kill_the_channel() {
        let now = Utc::now();
        let gone = attempted(
            &ChannelState::new("ops"),
            &result(AttemptOutcome::Permanent, Some(404), "no_service"),
            now,
        );
        assert_eq!(gone.health, ChannelHealth::Dead);
        assert_eq!(gone.reason.as_deref(), Some("404 no_service"));
        assert_eq!(gone.since, Some(now));
        assert_eq!(
            gone.next_attempt_at,
            Some(now + chrono::Duration::seconds(300))
        );
        let mut state = ChannelState::new("ops");
        for _ in 0..3 {
            state = attempted(
                &state,
                &result(AttemptOutcome::Retry, None, "timed out"),
                now,
            );
        }
        assert_eq!(state.health, ChannelHealth::Dead);
        assert_eq!(state.consecutive_failures, 3);
    }

    #[test]
    fn a_429_waits_as_long_as_retry_after_says_up_to_the_longest_backoff() {
        let now = Utc::now();
        let mut throttled = result(AttemptOutcome::Retry, Some(429), "slow down");
        throttled.retry_after = Some(Duration::from_secs(7));
        let state = attempted(&ChannelState::new("ops"), &throttled, now);
        assert_eq!(
            state.next_attempt_at,
            Some(now + chrono::Duration::seconds(7))
        );
        // A year, or past the end of time (which panicked), waits as long
        // as the backoff at most: the channel keeps being tried, and so
        // can be counted dead.
        for asked in [365 * 24 * 3600, 10_000_000_000_000] {
            throttled.retry_after = Some(Duration::from_secs(asked));
            let state = attempted(&ChannelState::new("ops"), &throttled, now);
            assert_eq!(
                state.next_attempt_at,
                Some(now + chrono::Duration::from_std(MAX_BACKOFF).unwrap()),
                "Retry-After {asked}"
            );
        }
    }

    #[test]
    fn the_slack_canary_reads_invalid_payload_as_alive_and_404_as_gone() {
        let verdict = |status, body| canary_verdict(ChannelKind::Slack, Some(status), body);
        assert_eq!(verdict(400, "invalid_payload"), AttemptOutcome::Delivered);
        assert_eq!(verdict(404, "no_service"), AttemptOutcome::Permanent);
        assert_eq!(
            verdict(410, "channel_is_archived"),
            AttemptOutcome::Permanent
        );
        assert_eq!(verdict(400, "something_else"), AttemptOutcome::Permanent);
        assert_eq!(verdict(503, ""), AttemptOutcome::Retry);
        assert_eq!(
            canary_verdict(ChannelKind::Webhook, Some(204), ""),
            AttemptOutcome::Delivered
        );
    }
}
