//! `slate serve --watch DIR`: deploys every `.wasm` file written to DIR.
//!
//! The folder is polled. A file is deployed only once its size and
//! modification time have stayed the same for [`SETTLE`], so a file still
//! being written is never loaded; it is then validated like any
//! deployment, and a rejected file is logged, raises `deploy_rejected`
//! (resolved when the file deploys or is removed), and is not retried
//! until it changes, but for one refused for a processor it depends on:
//! files settled together deploy in dependency order, and one still
//! waiting for its upstream is tried again once the registry moves.
//! Hidden files (editors' and copiers' temporary files) are ignored. A
//! file already in the folder when the watcher starts, of a processor
//! whose last switch was an undeploy, is not deployed again (a restart
//! would otherwise undo the undeploy): it is skipped, with the way to
//! deploy it named. A file written to the folder later is deployed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::state::ServedHost;
use crate::deploy::DeployCheck;

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
    /// Files a dependencies check refused, each with whether it was found
    /// at start and its fingerprint then: tried again once the registry
    /// moves, if unchanged.
    waiting: HashMap<PathBuf, (bool, Fingerprint)>,
    /// The registry's generation when they were last tried.
    waiting_since: Option<i64>,
}

impl Watcher {
    /// A watcher of `dir` that has seen nothing yet.
    pub fn new(dir: PathBuf) -> Self {
        Watcher {
            dir,
            settling: HashMap::new(),
            handled: HashMap::new(),
            at_start: None,
            waiting: HashMap::new(),
            waiting_since: None,
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
        // A file handled once and removed since: its rejection, if any,
        // has no file left to deploy or mend.
        let removed: Vec<PathBuf> = (self.handled.keys())
            .filter(|path| !paths.contains(path))
            .cloned()
            .collect();
        for path in removed {
            self.handled.remove(&path);
            self.waiting.remove(&path);
            resolve_rejections(host, &path, "the file was removed");
        }
        let mut settled = Vec::new();
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
            // Changed since it waited: handled anew, as any file.
            self.waiting.remove(&path);
            let found_at_start = at_start.get(&path) == Some(&now);
            settled.push((path, found_at_start));
        }
        // Files refused for a processor they depend on are tried again
        // once the registry moved (this folder or anyone deployed).
        if !self.waiting.is_empty() && host.registry.generation().ok() != self.waiting_since {
            for (path, (found_at_start, refused)) in self.waiting.drain() {
                // One removed or changed since waits no more: a changed
                // one settles and is handled anew.
                if fingerprint(&path) == Some(refused) {
                    settled.push((path, found_at_start));
                }
            }
        }
        if settled.is_empty() {
            return Vec::new();
        }
        // The generation they are tried at: read before this poll's own
        // deploys, so that an upstream deployed from the folder now (after
        // its dependant was refused) moves the registry past it, and the
        // dependant is tried again at the next poll.
        let tried_at = host.registry.generation().ok();
        let (events, waiting) = deploy_files(host, settled);
        self.waiting_since = tried_at;
        for (path, found_at_start) in waiting {
            if let Some(refused) = self.handled.get(&path) {
                self.waiting.insert(path, (found_at_start, *refused));
            }
        }
        events
    }
}

/// Deploys the settled files of one poll. One a dependencies check refused
/// (its upstream not deployed yet) is tried again after each pass that
/// deployed another, so a dependant dropped in with its upstream goes live
/// whatever order their names sort in; what is still refused at the end
/// is reported. Returns the events, and the files that wait for a
/// dependency.
fn deploy_files(
    host: &ServedHost,
    settled: Vec<(PathBuf, bool)>,
) -> (Vec<WatchEvent>, Vec<(PathBuf, bool)>) {
    let mut events = Vec::new();
    let mut pending = settled;
    loop {
        let mut waiting = Vec::new();
        let mut deployed_any = false;
        for (path, found_at_start) in pending {
            match deploy_file(host, &path, found_at_start) {
                Err(refusal) if refusal.waits_for_a_dependency() => {
                    waiting.push((path, found_at_start, refusal));
                }
                Err(refusal) => events.push(refusal.reported(host, path)),
                Ok(deployed) => {
                    deployed_any = true;
                    events.push(deployed);
                }
            }
        }
        if !deployed_any || waiting.is_empty() {
            let still = waiting
                .iter()
                .map(|(path, at, _)| (path.clone(), *at))
                .collect();
            for (path, _, refusal) in waiting {
                events.push(refusal.reported(host, path));
            }
            return (events, still);
        }
        pending = waiting
            .into_iter()
            .map(|(path, at, _)| (path, at))
            .collect();
    }
}

/// Why a file was not deployed.
struct Refusal {
    /// What refused it.
    by: RefusedBy,
    /// Why, in full.
    error: String,
}

/// What refused a file.
enum RefusedBy {
    /// It could not be read.
    Unreadable,
    /// It was found at start, of a processor undeployed since: skipped.
    Undeployed,
    /// A deployment check.
    Check(DeployCheck),
}

impl Refusal {
    /// Logs the refusal, raises its `deploy_rejected` (not for a file
    /// skipped as undeployed, which is the operator's own doing), and
    /// makes it the event.
    fn reported(self, host: &ServedHost, path: PathBuf) -> WatchEvent {
        tracing::warn!(file = %path.display(), "not deployed: {}", self.error);
        match self.by {
            RefusedBy::Check(check) => {
                raise_rejection(host, &path, &check.to_string(), &self.error)
            }
            RefusedBy::Unreadable => raise_rejection(host, &path, "read", &self.error),
            RefusedBy::Undeployed => {}
        }
        WatchEvent::Rejected {
            path,
            error: self.error,
        }
    }

    /// Whether it waits for a processor it depends on.
    fn waits_for_a_dependency(&self) -> bool {
        matches!(self.by, RefusedBy::Check(DeployCheck::Dependencies))
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
fn deploy_file(
    host: &ServedHost,
    path: &Path,
    found_at_start: bool,
) -> Result<WatchEvent, Refusal> {
    let bytes = std::fs::read(path).map_err(|error| Refusal {
        by: RefusedBy::Unreadable,
        error: format!("cannot read: {error}"),
    })?;
    if let Some(undeployed) = found_at_start
        .then(|| undeployed_version(host, &bytes))
        .flatten()
    {
        return Err(Refusal {
            by: RefusedBy::Undeployed,
            error: undeployed,
        });
    }
    let deployment = host
        .deploy(&bytes, None)
        .map_err(|error| Refusal {
            by: RefusedBy::Check(error.check),
            error: error.to_string(),
        })?
        .deployment;
    tracing::info!(
        file = %path.display(),
        processor = %deployment.name,
        hash = %deployment.hash,
        "deployed from the watched folder"
    );
    resolve_rejections(host, path, "deployed");
    Ok(WatchEvent::Deployed {
        path: path.to_path_buf(),
        processor: deployment.name,
        hash: deployment.hash,
    })
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
/// that it deployed or was removed (`why`).
fn resolve_rejections(host: &ServedHost, path: &Path, why: &str) {
    let Some(outbox) = host.store.alert_outbox() else {
        return;
    };
    let subject = path.display().to_string();
    let matching = |alert: &crate::alerts::record::AlertRecord| {
        alert.raised.event == crate::alerts::EventKind::DeployRejected
            && alert.raised.subject == subject
    };
    if let Err(error) = outbox.resolve_open_alerts(&matching, why) {
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
