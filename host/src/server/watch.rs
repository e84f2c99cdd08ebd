//! `slate serve --watch DIR`: deploys every `.wasm` file written to DIR.
//!
//! The folder is polled. A file is deployed only once its size and
//! modification time have stayed the same for [`SETTLE`], so a file still
//! being written is never loaded; it is then validated like any
//! deployment, and a rejected file is logged, raises `deploy_rejected`
//! (resolved when the file deploys), and is not retried until it
//! changes. Hidden files (editors' and copiers' temporary files) are
//! ignored. A file already in the folder when the watcher starts, of a
//! processor whose last switch was an undeploy, is not deployed again (a
//! restart would otherwise undo the undeploy): it is skipped, with the way
//! to deploy it named. A file written to the folder later is deployed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::state::ServedHost;

/// How long a file must stay unchanged before it is deployed.
pub const SETTLE: Duration = Duration::from_millis(750);

/// How often the folder is listed.
pub const POLL: Duration = Duration::from_millis(200);

/// A file's size and modification time: it changes when the file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: SystemTime,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let metadata = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        len: metadata.len(),
        modified: metadata.modified().ok()?,
    })
}

/// What happened to a settled file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// It was deployed and is now active.
    Deployed {
        /// The file.
        path: PathBuf,
        /// The processor.
        processor: String,
        /// The version's hash.
        hash: String,
    },
    /// It was read but rejected; the active version is unchanged.
    Rejected {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// Watches one folder: call [`Watcher::poll`] repeatedly.
pub struct Watcher {
    dir: PathBuf,
    /// Last fingerprint seen, and since when it has not changed.
    settling: HashMap<PathBuf, (Fingerprint, Instant)>,
    /// Fingerprint of the version last handled (deployed or rejected).
    handled: HashMap<PathBuf, Fingerprint>,
    /// The files in the folder at the first listing, as they were then:
    /// those a restart finds, not ones written since.
    at_start: Option<HashMap<PathBuf, Fingerprint>>,
}

impl Watcher {
    /// A watcher of `dir` that has seen nothing yet.
    pub fn new(dir: PathBuf) -> Self {
        Watcher {
            dir,
            settling: HashMap::new(),
            handled: HashMap::new(),
            at_start: None,
        }
    }

    /// Lists the folder once and deploys every `.wasm` file that has
    /// settled since it last changed and was not handled in this state.
    pub fn poll(&mut self, host: &ServedHost) -> Vec<WatchEvent> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            tracing::warn!(dir = %self.dir.display(), "cannot read the watched folder");
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        let at_start = self.at_start.get_or_insert_with(|| {
            paths
                .iter()
                .filter_map(|path| Some((path.clone(), fingerprint(path)?)))
                .collect()
        });
        let mut events = Vec::new();
        for path in paths {
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden || path.extension().is_none_or(|e| e != "wasm") {
                continue;
            }
            let Some(now) = fingerprint(&path) else {
                continue;
            };
            if self.handled.get(&path) == Some(&now) {
                continue;
            }
            let since = match self.settling.get(&path) {
                Some((previous, since)) if *previous == now => *since,
                _ => {
                    self.settling.insert(path.clone(), (now, Instant::now()));
                    continue;
                }
            };
            if since.elapsed() < SETTLE {
                continue;
            }
            self.settling.remove(&path);
            self.handled.insert(path.clone(), now);
            let found_at_start = at_start.get(&path) == Some(&now);
            events.push(deploy_file(host, path, found_at_start));
        }
        events
    }
}

/// Watches `dir` on a background thread until `stop` is set.
pub fn spawn(
    host: Arc<ServedHost>,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("slate-watch".into())
        .spawn(move || {
            let mut watcher = Watcher::new(dir);
            while !stop.load(Ordering::SeqCst) {
                watcher.poll(&host);
                std::thread::sleep(POLL);
            }
        })
        .expect("spawn the folder watcher")
}

/// Deploys the file at `path`; one `found_at_start` (unchanged since the
/// watcher's first listing) is skipped when its processor was undeployed,
/// or switched away from it ([`undeployed_version`]).
fn deploy_file(host: &ServedHost, path: PathBuf, found_at_start: bool) -> WatchEvent {
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(file = %path.display(), "cannot read: {error}");
            raise_rejection(host, &path, "read", &error.to_string());
            return WatchEvent::Rejected {
                path,
                error: error.to_string(),
            };
        }
    };
    if let Some(undeployed) = found_at_start
        .then(|| undeployed_version(host, &bytes))
        .flatten()
    {
        tracing::warn!(file = %path.display(), "not deployed: {undeployed}");
        return WatchEvent::Rejected {
            path,
            error: undeployed,
        };
    }
    match host.deploy(&bytes, None) {
        Ok(deployment) => {
            tracing::info!(
                file = %path.display(),
                processor = %deployment.name,
                hash = %deployment.hash,
                "deployed from the watched folder"
            );
            resolve_rejections(host, &path);
            WatchEvent::Deployed {
                path,
                processor: deployment.name,
                hash: deployment.hash,
            }
        }
        Err(error) => {
            tracing::warn!(file = %path.display(), "not deployed: {error}");
            raise_rejection(host, &path, &error.check.to_string(), &error.to_string());
            WatchEvent::Rejected {
                path,
                error: error.to_string(),
            }
        }
    }
}

/// Raises `deploy_rejected` for the file at `path`, where the store keeps
/// an outbox: a file dropped in the folder to go live that did not is an
/// operator's surprise, not only a line in the log.
fn raise_rejection(host: &ServedHost, path: &Path, check: &str, reason: &str) {
    let Some(outbox) = host.store.alert_outbox() else {
        return;
    };
    let alert = crate::alerts::event::for_rejected_file(&path.display().to_string(), check, reason);
    if let Err(error) = outbox.record_alert(&alert) {
        tracing::warn!(file = %path.display(), %error, "the deploy_rejected alert was not recorded");
    }
}

/// Resolves the open `deploy_rejected` alerts of the file at `path`, now
/// that it deployed.
fn resolve_rejections(host: &ServedHost, path: &Path) {
    let Some(outbox) = host.store.alert_outbox() else {
        return;
    };
    let subject = path.display().to_string();
    let matching = |alert: &crate::alerts::record::AlertRecord| {
        alert.raised.event == crate::alerts::EventKind::DeployRejected
            && alert.raised.subject == subject
    };
    if let Err(error) = outbox.resolve_open_alerts(&matching, "deployed") {
        tracing::warn!(file = %subject, %error, "its deploy_rejected alerts were not resolved");
    }
}

/// Why `bytes`, found in the folder at start, are not deployed: their
/// processor's last switch was an undeploy, or moved it away from this
/// very version (a rollback from it, a promotion or deploy of another).
/// A restart must not undo what an operator did while the file stayed.
/// A version never active before is deployed: it was written while the
/// server was down.
fn undeployed_version(host: &ServedHost, bytes: &[u8]) -> Option<String> {
    use crate::registry::DeployAction;

    let plugin = host.runtime.load(bytes).ok()?;
    let name = &plugin.spec.name;
    let history = host.registry.history(name).ok()?;
    let last = history.first()?;
    let what_to_do = format!(
        "remove the file, write it again, or deploy with `slate deploy` or `slate rollback {name}`"
    );
    let at = last.deployed_at.format("%Y-%m-%d %H:%M:%S UTC");
    if last.action == DeployAction::Undeploy {
        return Some(format!(
            "{name} was undeployed at {at} and the watched folder still holds {name} {}: \
             {what_to_do}",
            plugin.spec.version,
        ));
    }
    let was_active = history
        .iter()
        .any(|switch| switch.hash == plugin.hash && switch.action != DeployAction::Undeploy);
    (was_active && last.hash != plugin.hash).then(|| {
        format!(
            "the watched folder still holds {name} {} ({}), which was active before: a {} \
             made {} ({}) active at {at}, and a restart does not undo it; {what_to_do}",
            plugin.spec.version, plugin.hash, last.action, last.version, last.hash,
        )
    })
}
