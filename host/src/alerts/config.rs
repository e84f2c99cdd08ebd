//! The `[alerts]` section of `slate.toml`: named channels, what each one
//! is sent, and how hard delivery tries.
//!
//! ```toml
//! [alerts]
//! check_interval_secs = 300    # how often `slate serve` probes each channel
//! no_rows_deadline_hours = 36  # a scheduled date with no rows this long after it alerts
//!
//! [[alerts.channel]]
//! name = "ops"
//! kind = "slack"                 # or "webhook"
//! url_env = "SLACK_WEBHOOK_URL"  # or url = "https://..."; never logged
//! events = ["run_failed", "stale_run_reaped"]  # default: every event
//! min_severity = "warning"       # info, warning or error; default info
//! ```
//!
//! A URL is a secret: it is held as a [`Secret`], which never prints.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::event::{EventKind, Severity};

/// A value that must never appear in logs, output or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that uses it: the request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// Which service a channel posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A Slack incoming webhook: Slack's `text` plus blocks.
    Slack,
    /// Any HTTPS receiver: the versioned JSON payload.
    Webhook,
}

/// One channel, resolved: its URL read from the environment if so configured.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Its name, unique in the section.
    pub name: String,
    /// Where it posts.
    pub kind: ChannelKind,
    /// The URL posted to.
    pub url: Secret,
    /// Extra request headers (webhook only); values are secrets too.
    pub headers: Vec<(String, Secret)>,
    /// The events it is sent; every event when empty.
    pub events: Vec<EventKind>,
    /// The least severity it is sent.
    pub min_severity: Severity,
    /// At most this many posts a minute; a backlog beyond goes as one digest.
    pub max_per_minute: u32,
    /// Failed attempts in a row after which it is dead.
    pub dead_after_failures: u32,
    /// The environment variables it reads its URL or headers from that
    /// are not set here: only a config read without secrets
    /// ([`AlertsConfig::load_without_secrets`]) has any, and it delivers
    /// nothing.
    pub unset_env: Vec<String>,
}

impl Channel {
    /// Whether an event of this kind and severity goes to this channel.
    pub fn routes(&self, event: EventKind, severity: Severity) -> bool {
        severity >= self.min_severity && (self.events.is_empty() || self.events.contains(&event))
    }

    /// The least time between two posts.
    pub fn min_interval(&self) -> Duration {
        Duration::from_secs_f64(60.0 / f64::from(self.max_per_minute.max(1)))
    }
}

/// The whole `[alerts]` section.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// The channels, in file order.
    pub channels: Vec<Channel>,
    /// How often `slate serve` probes every channel.
    pub check_interval: Duration,
    /// How long after a scheduled date its tables may have no rows.
    pub no_rows_deadline: chrono::Duration,
    /// How long one post may take.
    pub timeout: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            channels: Vec::new(),
            check_interval: Duration::from_secs(300),
            no_rows_deadline: chrono::Duration::hours(36),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why the `[alerts]` section is unusable.
#[derive(Debug, thiserror::Error)]
pub enum AlertsSectionError {
    /// Not TOML, or a key or value of the wrong shape; names the line.
    #[error(transparent)]
    Toml(#[from] crate::config_file::TomlError),
    /// Two channels share a name.
    #[error("[[alerts.channel]] `{0}` is defined twice")]
    DuplicateChannel(String),
    /// A channel's name could not be told apart ([`crate::config_file::name_problem`]).
    #[error("[[alerts.channel]] name {name:?}: {problem}")]
    BadName {
        /// The name.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A channel gives neither `url` nor `url_env`, or both.
    #[error("[[alerts.channel]] `{0}`: give exactly one of `url` and `url_env`")]
    UrlSource(String),
    /// The environment variable a channel reads is not set.
    #[error("[[alerts.channel]] `{channel}`: environment variable {variable} is not set")]
    MissingEnv {
        /// The channel.
        channel: String,
        /// The variable.
        variable: String,
    },
    /// `url_env` or a `headers_env` value that is no environment
    /// variable's name: most likely the secret itself, so not repeated.
    #[error(
        "[[alerts.channel]] `{channel}` {key}: not the name of an environment variable \
         (letters, digits and `_`, not starting with a digit); the value is not repeated, as \
         it may be the secret itself: give a secret with `url` or `headers`, or its \
         variable's name here"
    )]
    BadEnvName {
        /// The channel.
        channel: String,
        /// The key: `url_env`, or `headers_env.NAME`.
        key: String,
    },
    /// A URL that is not a well-formed `http(s)://host...` (its value is
    /// not repeated: it is secret).
    #[error("[[alerts.channel]] `{channel}`: {problem} (the URL is not repeated: it is secret)")]
    BadUrl {
        /// The channel.
        channel: String,
        /// What is wrong with the URL.
        problem: String,
    },
    /// A header HTTP cannot carry: its name is named, its value is not
    /// repeated (it is secret).
    #[error("[[alerts.channel]] `{channel}` headers: {problem}")]
    BadHeader {
        /// The channel.
        channel: String,
        /// What is wrong, naming the header.
        problem: String,
    },
    /// A number that must be positive is not.
    #[error("[alerts] {key} must be positive")]
    NotPositive {
        /// The key.
        key: String,
    },
    /// A length of time below what the key allows: a canary every
    /// millisecond is a flood that a receiver's rate limit kills the
    /// channel for; a post given a microsecond always times out.
    #[error("[alerts] {key} must be at least {min}")]
    TooSmall {
        /// The key.
        key: String,
        /// Its smallest value.
        min: f64,
    },
    /// A length of time past what the key allows (a year of seconds would
    /// overflow the clock, not just wait long).
    #[error("[alerts] {key} must be at most {max}")]
    TooLarge {
        /// The key.
        key: String,
        /// Its largest value.
        max: f64,
    },
}

/// The most `check_interval_secs` and `timeout_secs` may be: a day.
const MAX_SECONDS: f64 = 86_400.0;

/// The least `check_interval_secs` may be: a canary a second at most.
const MIN_CHECK_INTERVAL_SECONDS: f64 = 1.0;

/// The least `timeout_secs` may be: no receiver answers in less.
const MIN_TIMEOUT_SECONDS: f64 = 0.1;

/// The most `no_rows_deadline_hours` may be: about a thousand years,
/// enough to silence the sweep, not enough to overflow a date.
const MAX_DEADLINE_HOURS: f64 = 10_000_000.0;

/// `slate.toml` could not give the `[alerts]` section.
pub type AlertsConfigError = crate::config_file::ConfigFileError<AlertsSectionError>;

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    alerts: Option<AlertsSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsSection {
    check_interval_secs: Option<f64>,
    no_rows_deadline_hours: Option<f64>,
    timeout_secs: Option<f64>,
    #[serde(default)]
    channel: Vec<ChannelSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelSection {
    name: String,
    kind: ChannelKind,
    url: Option<String>,
    url_env: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    headers_env: BTreeMap<String, String>,
    events: Option<Vec<String>>,
    min_severity: Option<String>,
    max_per_minute: Option<u32>,
    dead_after_failures: Option<u32>,
}

impl AlertsConfig {
    /// Reads `[alerts]` from a `slate.toml`; a missing file or section has
    /// no channels.
    pub fn load(path: &Path) -> Result<Self, AlertsConfigError> {
        crate::config_file::load(path, AlertsConfig::default, |text| {
            Self::parse(text, |name| std::env::var(name).ok())
        })
    }

    /// Checks `[alerts]` of a `slate.toml` as [`AlertsConfig::load`] does,
    /// except that an environment variable a channel reads its URL or a
    /// header from may be unset: for a command that reads the file but
    /// delivers nothing, so it does not need the secrets.
    pub fn load_without_secrets(path: &Path) -> Result<Self, AlertsConfigError> {
        crate::config_file::load(path, AlertsConfig::default, |text| {
            Self::parse_section(text, |name| std::env::var(name).ok(), true)
        })
    }

    /// Parses the text of a `slate.toml`, reading environment variables
    /// through `env`.
    pub fn parse(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, AlertsSectionError> {
        Self::parse_section(text, env, false)
    }

    /// [`AlertsConfig::parse`]; with `unset_allowed`, a variable `env` does
    /// not have stands for a URL that cannot be told, named in the
    /// channel's [`Channel::unset_env`], rather than an error.
    fn parse_section(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
        unset_allowed: bool,
    ) -> Result<Self, AlertsSectionError> {
        let file: ConfigFile = crate::config_file::from_toml(text)?;
        let Some(section) = file.alerts else {
            return Ok(AlertsConfig::default());
        };
        let defaults = AlertsConfig::default();
        let within = |key: &str, value: Option<f64>, min: Option<f64>, max: f64| match value {
            Some(v) if !(v.is_finite() && v > 0.0) => Err(AlertsSectionError::NotPositive {
                key: key.to_string(),
            }),
            Some(v) if min.is_some_and(|min| v < min) => Err(AlertsSectionError::TooSmall {
                key: key.to_string(),
                min: min.unwrap_or_default(),
            }),
            Some(v) if v > max => Err(AlertsSectionError::TooLarge {
                key: key.to_string(),
                max,
            }),
            other => Ok(other),
        };
        let check_interval = within(
            "check_interval_secs",
            section.check_interval_secs,
            Some(MIN_CHECK_INTERVAL_SECONDS),
            MAX_SECONDS,
        )?
        .map_or(defaults.check_interval, Duration::from_secs_f64);
        let timeout = within(
            "timeout_secs",
            section.timeout_secs,
            Some(MIN_TIMEOUT_SECONDS),
            MAX_SECONDS,
        )?
        .map_or(defaults.timeout, Duration::from_secs_f64);
        let no_rows_deadline = within(
            "no_rows_deadline_hours",
            section.no_rows_deadline_hours,
            None,
            MAX_DEADLINE_HOURS,
        )?
        .map_or(defaults.no_rows_deadline, |hours| {
            chrono::Duration::milliseconds((hours * 3_600_000.0) as i64)
        });
        let mut channels: Vec<Channel> = Vec::new();
        for channel in section.channel {
            if let Some(problem) = crate::config_file::name_problem(&channel.name) {
                return Err(AlertsSectionError::BadName {
                    name: channel.name,
                    problem,
                });
            }
            if channels.iter().any(|c| c.name == channel.name) {
                return Err(AlertsSectionError::DuplicateChannel(channel.name));
            }
            channels.push(resolve_channel(channel, &env, unset_allowed)?);
        }
        Ok(AlertsConfig {
            channels,
            check_interval,
            no_rows_deadline,
            timeout,
        })
    }

    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }
}

fn resolve_channel(
    section: ChannelSection,
    env: &impl Fn(&str) -> Option<String>,
    unset_allowed: bool,
) -> Result<Channel, AlertsSectionError> {
    let name = section.name;
    let unset_env = std::cell::RefCell::new(Vec::new());
    let read_env = |variable: &str| match env(variable) {
        Some(value) => Ok(value),
        None if unset_allowed => {
            unset_env.borrow_mut().push(variable.to_string());
            Ok("https://unset.invalid/".to_string())
        }
        None => Err(AlertsSectionError::MissingEnv {
            channel: name.clone(),
            variable: variable.to_string(),
        }),
    };
    let variable_name = |key: String, variable: &str| {
        let mut chars = variable.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        match first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            true => Ok(()),
            false => Err(AlertsSectionError::BadEnvName {
                channel: name.clone(),
                key,
            }),
        }
    };
    if let Some(variable) = &section.url_env {
        variable_name("url_env".into(), variable)?;
    }
    for (key, variable) in &section.headers_env {
        // The header's name only if it is one: a whole header written as
        // the name would carry its secret.
        let named = reqwest::header::HeaderName::from_bytes(key.as_bytes()).is_ok();
        variable_name(
            match named {
                true => format!("headers_env.{key}"),
                false => "headers_env".to_string(),
            },
            variable,
        )?;
    }
    let url = match (section.url, section.url_env) {
        (Some(url), None) => url,
        (None, Some(variable)) => read_env(&variable)?,
        _ => return Err(AlertsSectionError::UrlSource(name)),
    };
    if let Err(problem) = check_url(&url) {
        return Err(AlertsSectionError::BadUrl {
            channel: name,
            problem,
        });
    }
    let mut headers: Vec<(String, Secret)> = section
        .headers
        .into_iter()
        .map(|(key, value)| (key, Secret::new(value)))
        .collect();
    for (key, variable) in section.headers_env {
        headers.push((key, Secret::new(read_env(&variable)?)));
    }
    for (key, value) in &headers {
        if let Err(problem) = check_header(key, value.expose()) {
            return Err(AlertsSectionError::BadHeader {
                channel: name,
                problem,
            });
        }
    }
    // Left out, every event; an empty list would read as none, and be
    // taken as all.
    let events = match section.events {
        Some(events) if events.is_empty() => {
            return Err(toml_error(
                &name,
                "events",
                &"the list is empty: name the events to send, or leave `events` out to send \
                  every event",
            ));
        }
        events => events.unwrap_or_default(),
    };
    let events = events
        .iter()
        .map(|event| event.parse::<EventKind>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| toml_error(&name, "events", &unrepeated(&e)))?;
    let min_severity = section
        .min_severity
        .map(|s| s.parse::<Severity>())
        .transpose()
        .map_err(|e| toml_error(&name, "min_severity", &unrepeated(&e)))?
        .unwrap_or(Severity::Info);
    let max_per_minute = section.max_per_minute.unwrap_or(6);
    let dead_after_failures = section.dead_after_failures.unwrap_or(5);
    for (key, value) in [
        ("max_per_minute", max_per_minute),
        ("dead_after_failures", dead_after_failures),
    ] {
        if value == 0 {
            return Err(AlertsSectionError::NotPositive {
                key: format!("channel `{name}` {key}"),
            });
        }
    }
    Ok(Channel {
        name,
        kind: section.kind,
        url: Secret::new(url),
        headers,
        events,
        min_severity,
        max_per_minute,
        dead_after_failures,
        unset_env: unset_env.into_inner(),
    })
}

/// Whether `url` is one a request can be sent to: `http` or `https`, with
/// a host, and a port that is one. What is wrong is said without the URL.
fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("the URL is not one: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("the URL must start with https:// or http://".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host".into());
    }
    Ok(())
}

/// Whether a header named `name` with `value` can be sent; what is wrong
/// names the header, never its value.
fn check_header(name: &str, value: &str) -> Result<(), String> {
    use reqwest::header::{HeaderName, HeaderValue};
    // Not repeated either: a whole header (`Authorization: Bearer ...`)
    // written as the name carries its secret.
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        "a header's name is not a valid HTTP header name (letters, digits and `-`; a `:` or \
         a space in it?); it is not repeated, as it may hold a secret"
            .to_string()
    })?;
    HeaderValue::from_str(value).map_err(|_| {
        format!(
            "the value of {name:?} is not a valid HTTP header value (a control character, or \
             a line break?); it is not repeated: it is secret"
        )
    })?;
    Ok(())
}

/// What a channel's value that names nothing is told as: without the
/// value, which in a channel may be a secret written in the wrong place.
fn unrepeated(error: &crate::runs::UnknownName) -> String {
    format!(
        "a value is not one of: {} (it is not repeated, as it may be a secret)",
        error.choices.join(", ")
    )
}

fn toml_error(channel: &str, key: &str, error: &dyn fmt::Display) -> AlertsSectionError {
    AlertsSectionError::Toml(crate::config_file::TomlError::custom(format!(
        "[[alerts.channel]] `{channel}` {key}: {error}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOOK").then(|| "https://hooks.example/T0/B0/secret-token".to_string())
    }

    #[test]
    fn a_channel_reads_its_url_from_the_environment_and_routes_by_event_and_severity() {
        let config = AlertsConfig::parse(
            r#"
            [alerts]
            check_interval_secs = 60
            [[alerts.channel]]
            name = "ops"
            kind = "slack"
            url_env = "HOOK"
            events = ["run_failed", "run_blocked"]
            min_severity = "error"
            "#,
            env,
        )
        .unwrap();
        let ops = config.channel("ops").unwrap();
        assert_eq!(ops.url.expose(), "https://hooks.example/T0/B0/secret-token");
        assert!(ops.routes(EventKind::RunFailed, Severity::Error));
        assert!(!ops.routes(EventKind::RunBlocked, Severity::Warning));
        assert!(!ops.routes(EventKind::Deployed, Severity::Error));
        assert_eq!(config.check_interval, Duration::from_secs(60));
        assert_eq!(ops.min_interval(), Duration::from_secs(10));
    }

    #[test]
    fn a_secret_never_prints_not_even_in_debug() {
        let config = AlertsConfig::parse(
            "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"HOOK\"\n\
             headers = { Authorization = \"Bearer hunter2\" }\n",
            env,
        )
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("secret-token"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    /// A secret written where its variable's name goes was printed as the
    /// name of a variable not set, by `slate alerts` and `slate serve`.
    #[test]
    fn a_secret_given_as_a_variable_name_is_refused_without_repeating_it() {
        for (line, key) in [
            (
                "url_env = \"https://hooks.example/T0/B0/SECRET1\"",
                "url_env",
            ),
            (
                "url_env = \"HOOK\"\nheaders_env = { Authorization = \"Bearer SECRET2\" }",
                "headers_env.Authorization",
            ),
            ("url_env = \"1HOOK\"", "url_env"),
            (
                "url_env = \"HOOK\"\nheaders_env = { \"Authorization: Bearer SECRET3\" = \"x-y\" }",
                "headers_env",
            ),
        ] {
            let text = format!("[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n{line}\n");
            for unset_allowed in [false, true] {
                let error = AlertsConfig::parse_section(&text, env, unset_allowed)
                    .unwrap_err()
                    .to_string();
                assert!(
                    error.starts_with(&format!(
                        "[[alerts.channel]] `ops` {key}: not the name of an environment variable"
                    )),
                    "{error}"
                );
                assert!(
                    !error.contains("SECRET") && !error.contains("1HOOK"),
                    "{error}"
                );
            }
        }
        // Nor is a secret written as an event or a severity.
        for (line, key) in [
            ("events = [\"https://hooks.example/SECRET4\"]", "events"),
            ("min_severity = \"Bearer SECRET5\"", "min_severity"),
        ] {
            let text = format!(
                "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"HOOK\"\n{line}\n"
            );
            let error = AlertsConfig::parse(&text, env).unwrap_err().to_string();
            assert!(
                error.contains(&format!(
                    "[[alerts.channel]] `ops` {key}: a value is not one of"
                )),
                "{error}"
            );
            assert!(!error.contains("SECRET"), "{error}");
        }
        let named =
            "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"_HOOK_2\"\n";
        let error = AlertsConfig::parse(named, env).unwrap_err().to_string();
        assert!(
            error.contains("environment variable _HOOK_2 is not set"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_channel_is_an_error_naming_it_and_what_is_wrong() {
        let cases = [
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\n",
                "`a`: give exactly one of `url` and `url_env`",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\nurl_env = \"NOPE\"\n",
                "`a`: environment variable NOPE is not set",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\nurl = \"ftp://x\"\n",
                "`a`: the URL must start with https:// or http://",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\nurl = \"http://\"\n",
                "`a`: the URL is not one: empty host",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\n\
                 url = \"http://127.0.0.1:99999/hook\"\n",
                "`a`: the URL is not one: invalid port number (the URL is not repeated",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\n\
                 url = \"http://exa mple.com/x\"\n",
                "`a`: the URL is not one: invalid international domain name",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"https://x\"\n\
                 headers = { \"Bad Header\" = \"v\" }\n",
                "`a` headers: a header's name is not a valid HTTP header name",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"https://x\"\n\
                 headers = { Authorization = \"Bearer s3cret\\nX-Injected: 1\" }\n",
                "`a` headers: the value of \"Authorization\" is not a valid HTTP header value",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\nurl = \"https://x\"\n\
                 events = [\"exploded\"]\n",
                "`a` events: a value is not one of: run_failed",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\nurl = \"https://x\"\n\
                 events = []\n",
                "`a` events: the list is empty: name the events to send, or leave `events` out",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"pager\"\nurl = \"https://x\"\n",
                "line 3, column 8: unknown variant (not repeated), expected `slack` or `webhook`",
            ),
            (
                "[[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\nurl = \"https://x\"\n\
                 [[alerts.channel]]\nname = \"a\"\nkind = \"slack\"\nurl = \"https://y\"\n",
                "`a` is defined twice",
            ),
            // Names that cannot be told apart in a listing or a metric.
            (
                "[[alerts.channel]]\nname = \"\"\nkind = \"slack\"\nurl = \"https://x\"\n",
                "name \"\": the name is empty",
            ),
            (
                "[[alerts.channel]]\nname = \"ops \"\nkind = \"slack\"\nurl = \"https://x\"\n",
                "name \"ops \": the name begins or ends with white space",
            ),
            (
                "[[alerts.channel]]\nname = \"o\\tps\"\nkind = \"slack\"\nurl = \"https://x\"\n",
                "the name holds a control character",
            ),
        ];
        for (text, expected) in cases {
            let error = AlertsConfig::parse(text, env).unwrap_err().to_string();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    }

    #[test]
    fn a_length_of_time_outside_its_bounds_is_an_error_not_a_panic_or_a_flood_later() {
        // Each of these panicked in the first command that used it.
        for (key, value, expected) in [
            (
                "check_interval_secs",
                "1e30",
                "check_interval_secs must be at most 86400",
            ),
            ("timeout_secs", "1e30", "timeout_secs must be at most 86400"),
            (
                "no_rows_deadline_hours",
                "1e12",
                "no_rows_deadline_hours must be at most 10000000",
            ),
            ("timeout_secs", "0", "timeout_secs must be positive"),
            (
                "check_interval_secs",
                "0.001",
                "check_interval_secs must be at least 1",
            ),
            (
                "timeout_secs",
                "0.0001",
                "timeout_secs must be at least 0.1",
            ),
        ] {
            let text = format!("[alerts]\n{key} = {value}\n");
            let error = AlertsConfig::parse(&text, env).unwrap_err().to_string();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
        let text = "[alerts]\nno_rows_deadline_hours = 1000000\n";
        assert!(
            AlertsConfig::parse(text, env).is_ok(),
            "silencing the sweep"
        );
    }

    #[test]
    fn no_section_means_no_channels() {
        let config = AlertsConfig::parse("[limits]\nmemory_mib = 64\n", env).unwrap();
        assert!(config.channels.is_empty());
    }
}
