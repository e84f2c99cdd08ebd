//! The plugin registry's switches, the same on both places it keeps them
//! (a data directory's folder, and a PostgreSQL database shared by hosts):
//! each moves the generation on, and an undeploy is recorded, ends the
//! shadow, and is undone by a rollback. A shadow deployed again keeps its
//! start.

use slate::plugin::{Plugin, Runtime};
use slate::registry::{DeployAction, Registry, RegistryError};

use crate::postgres_server::isolated_url;
use crate::support::{components, shared_compiled_cache};

/// The fixture `component`, loaded, with its bytes stored in `registry`.
fn stored(registry: &Registry, runtime: &Runtime, component: &str) -> Plugin {
    let bytes = std::fs::read(component).expect("the fixture was built");
    let plugin = runtime.load(&bytes).unwrap();
    registry.store_blob(&plugin.hash, &bytes).unwrap();
    plugin
}

/// What every registry does, whichever place keeps it.
fn switches_move_the_generation_on_and_an_undeploy_is_undone_by_a_rollback(registry: &Registry) {
    let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
    let v1 = stored(registry, &runtime, components::VERSIONED_V1);
    let v2 = stored(registry, &runtime, components::VERSIONED_V2);
    let name = v1.spec.name.as_str();
    let mut generations = vec![registry.generation().unwrap()];
    let mut moved_on = |switch: &str| {
        let now = registry.generation().unwrap();
        assert!(
            now > *generations.last().unwrap(),
            "{switch} moved the generation on: {generations:?}, then {now}"
        );
        generations.push(now);
    };

    registry
        .activate(&v1.spec, &v1.hash, DeployAction::Deploy)
        .unwrap();
    moved_on("a deploy");
    let shadow = registry.set_shadow(&v2.spec, &v2.hash).unwrap();
    moved_on("a shadow");
    // The same version deployed again as the shadow keeps the instant it
    // became it, and with it the dates it covered: before, its coverage
    // began again at nothing.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let again = registry.set_shadow(&v2.spec, &v2.hash).unwrap();
    assert_eq!(again.since, shadow.since);
    assert_eq!(registry.shadows().unwrap()[0].since, shadow.since);
    moved_on("the same shadow again");

    let undeployed = registry.deactivate(name).unwrap();
    moved_on("an undeploy");
    assert_eq!(
        (
            undeployed.action,
            undeployed.hash.as_str(),
            undeployed.active
        ),
        (DeployAction::Undeploy, v1.hash.as_str(), false)
    );
    assert_eq!(undeployed.version, v1.spec.version);
    assert!(registry.active().unwrap().is_empty());
    assert!(
        registry.shadows().unwrap().is_empty(),
        "the undeploy ended the shadow"
    );
    let history = registry.history(name).unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0], undeployed);
    assert!(history.iter().all(|d| !d.active), "{history:?}");

    let before = registry.generation().unwrap();
    assert!(matches!(
        registry.deactivate(name),
        Err(RegistryError::NotDeployed(n)) if n == name
    ));
    assert_eq!(
        registry.generation().unwrap(),
        before,
        "nothing was switched"
    );

    // A rollback after an undeploy returns to the version it ended.
    assert_eq!(registry.previous_version(name).unwrap().hash, v1.hash);
    registry
        .activate(&v1.spec, &v1.hash, DeployAction::Rollback)
        .unwrap();
    moved_on("a rollback");
    assert_eq!(registry.active_hash(name).unwrap(), Some(v1.hash.clone()));
    registry
        .activate(&v2.spec, &v2.hash, DeployAction::Deploy)
        .unwrap();
    moved_on("a second deploy");
    assert_eq!(registry.previous_version(name).unwrap().hash, v1.hash);
    assert!(registry.clear_shadow(name).is_ok());
}

/// The history shows a processor's shadows beside its switches, newest
/// first and none active: a version made the shadow (once, however often
/// it is stored again), dropped, made the shadow again, replaced by
/// another (the replaced one dropped), which is then promoted.
/// The switches alone, which rollbacks walk, are as they were. Before,
/// `slate plugins history` showed nothing of a shadow.
fn the_history_shows_shadows_set_and_dropped_beside_the_switches(registry: &Registry) {
    let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
    let v1 = stored(registry, &runtime, components::VERSIONED_V1);
    let v2 = stored(registry, &runtime, components::VERSIONED_V2);
    let v4 = stored(registry, &runtime, components::VERSIONED_V4_PANICS);
    let name = v1.spec.name.as_str();

    registry
        .activate(&v1.spec, &v1.hash, DeployAction::Deploy)
        .unwrap();
    registry.set_shadow(&v2.spec, &v2.hash).unwrap();
    registry.set_shadow(&v2.spec, &v2.hash).unwrap();
    assert!(registry.clear_shadow(name).unwrap());
    assert!(!registry.clear_shadow(name).unwrap(), "no shadow to drop");
    registry.set_shadow(&v2.spec, &v2.hash).unwrap();
    registry.set_shadow(&v4.spec, &v4.hash).unwrap();
    registry
        .activate(&v4.spec, &v4.hash, DeployAction::Promote)
        .unwrap();

    let history = registry.history_with_shadows(name).unwrap();
    let entries: Vec<(DeployAction, &str, bool)> = history
        .iter()
        .map(|entry| (entry.action, entry.version.as_str(), entry.active))
        .collect();
    assert_eq!(
        entries,
        [
            (DeployAction::Promote, "4.0.0", true),
            (DeployAction::Shadow, "4.0.0", false),
            (DeployAction::DropShadow, "2.0.0", false),
            (DeployAction::Shadow, "2.0.0", false),
            (DeployAction::DropShadow, "2.0.0", false),
            (DeployAction::Shadow, "2.0.0", false),
            (DeployAction::Deploy, "1.0.0", false),
        ],
        "{history:#?}"
    );
    // One sequence: newest first is highest first, and no id repeats.
    assert!(
        history.windows(2).all(|pair| pair[0].id > pair[1].id),
        "{history:#?}"
    );
    assert_eq!(registry.history(name).unwrap().len(), 2);
    assert_eq!(registry.previous_version(name).unwrap().hash, v1.hash);
}

#[test]
fn a_data_directorys_history_shows_shadows_set_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(&dir.path().join("registry")).unwrap();
    the_history_shows_shadows_set_and_dropped_beside_the_switches(&registry);
}

#[test]
fn a_shared_registrys_history_shows_shadows_set_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::connect(&isolated_url(), dir.path(), "test-host").unwrap();
    the_history_shows_shadows_set_and_dropped_beside_the_switches(&registry);
}

#[test]
fn a_data_directorys_registry_moves_on_at_every_switch_and_undoes_an_undeploy() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(&dir.path().join("registry")).unwrap();
    switches_move_the_generation_on_and_an_undeploy_is_undone_by_a_rollback(&registry);
}

#[test]
fn a_shared_registry_moves_on_at_every_switch_and_undoes_an_undeploy() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::connect(&isolated_url(), dir.path(), "test-host").unwrap();
    switches_move_the_generation_on_and_an_undeploy_is_undone_by_a_rollback(&registry);
}

/// A rollback without a target walks back through the versions, never
/// forward: a second rollback goes to the version before the one the
/// first returned to. Before, it went back to the version the first one
/// rolled back from, so a retried request put the bad version back. A
/// version rolled back to that was never deployed (a bundled one) is the
/// bottom: there is nothing before it.
fn rollbacks_walk_back_through_the_versions(registry: &Registry, base_registry: &Registry) {
    let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
    let v1 = stored(registry, &runtime, components::VERSIONED_V1);
    let v2 = stored(registry, &runtime, components::VERSIONED_V2);
    let v4 = stored(registry, &runtime, components::VERSIONED_V4_PANICS);
    let name = v1.spec.name.as_str();
    for v in [&v1, &v2, &v4] {
        registry
            .activate(&v.spec, &v.hash, DeployAction::Deploy)
            .unwrap();
    }
    let previous = || registry.previous_version(name).map(|v| v.hash);
    assert_eq!(previous().unwrap(), v2.hash);
    registry
        .activate(&v2.spec, &v2.hash, DeployAction::Rollback)
        .unwrap();
    assert_eq!(
        previous().unwrap(),
        v1.hash,
        "back again, not forward to v4"
    );
    registry
        .activate(&v1.spec, &v1.hash, DeployAction::Rollback)
        .unwrap();
    assert!(
        matches!(previous(), Err(RegistryError::NothingToRollBackTo(n)) if n == name),
        "{:?}",
        previous()
    );
    // A rollback to a named later version stacks it as a deploy would.
    registry
        .activate(&v4.spec, &v4.hash, DeployAction::Rollback)
        .unwrap();
    assert_eq!(previous().unwrap(), v1.hash);

    // Undeployed, then deployed again: a rollback goes back to no registry
    // version, not past the undeploy to the version the operator ended
    // (nor, for the same version deployed again, to itself).
    registry.deactivate(name).unwrap();
    assert_eq!(
        previous().unwrap(),
        v4.hash,
        "a rollback undoes the undeploy"
    );
    for again in [&v2, &v4] {
        registry
            .activate(&again.spec, &again.hash, DeployAction::Deploy)
            .unwrap();
        assert!(
            matches!(previous(), Err(RegistryError::NothingToRollBackTo(_))),
            "{:?}",
            previous()
        );
        registry.deactivate(name).unwrap();
    }

    // A version first made active by a rollback (a bundled one) is the
    // bottom of the stack.
    let v1 = stored(base_registry, &runtime, components::VERSIONED_V1);
    let v2 = stored(base_registry, &runtime, components::VERSIONED_V2);
    base_registry
        .activate(&v2.spec, &v2.hash, DeployAction::Deploy)
        .unwrap();
    base_registry
        .activate(&v1.spec, &v1.hash, DeployAction::Rollback)
        .unwrap();
    assert!(matches!(
        base_registry.previous_version(name),
        Err(RegistryError::NothingToRollBackTo(_))
    ));
}

#[test]
fn a_data_directorys_rollbacks_walk_back_through_the_versions() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(&dir.path().join("registry")).unwrap();
    let base = Registry::open(&dir.path().join("base")).unwrap();
    rollbacks_walk_back_through_the_versions(&registry, &base);
}

#[test]
fn a_shared_registrys_rollbacks_walk_back_through_the_versions() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::connect(&isolated_url(), dir.path(), "test-host").unwrap();
    let base = Registry::connect(&isolated_url(), dir.path(), "test-host").unwrap();
    rollbacks_walk_back_through_the_versions(&registry, &base);
}

/// Two hosts switching at once on a shared registry commit in the order
/// of their generations: a switch waits for one that took its generation
/// before it. Otherwise a host could read the later generation while the
/// earlier switch had not committed, and never load that switch.
#[test]
fn a_shared_registrys_switches_commit_in_the_order_of_their_generations() {
    let url = isolated_url();
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::connect(&url, dir.path(), "test-host").unwrap();
    let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
    let v1 = stored(&registry, &runtime, components::VERSIONED_V1);
    let before = registry.generation().unwrap();

    // Another host's switch, part way: it has its generation, and has not
    // committed.
    let mut other_host = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut in_progress = other_host.transaction().unwrap();
    in_progress
        .execute("UPDATE _slate.plugin_generation SET value = value + 1", &[])
        .unwrap();

    let (done, finished) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let registry = &registry;
        let v1 = &v1;
        scope.spawn(move || {
            let deployed = registry.activate(&v1.spec, &v1.hash, DeployAction::Deploy);
            done.send(deployed.map(|d| d.id)).unwrap();
        });
        assert!(
            finished
                .recv_timeout(std::time::Duration::from_millis(500))
                .is_err(),
            "the deploy waits for the switch that took its generation first"
        );
        in_progress.commit().unwrap();
        finished.recv().unwrap().unwrap();
    });
    assert_eq!(registry.generation().unwrap(), before + 2);
}

/// Holds `registry`'s switch lock, and checks that a second taker (another
/// handle on the same registry, as another process has) waits until it is
/// let go.
fn a_second_switch_waits_for_the_first(first: &Registry, second: &Registry) {
    let held = first.lock_switches().unwrap();
    let (taken, second_took) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let lock = second.lock_switches().unwrap();
            taken.send(()).unwrap();
            drop(lock);
        });
        assert!(
            second_took
                .recv_timeout(std::time::Duration::from_millis(500))
                .is_err(),
            "the second switch waits while the first holds the lock"
        );
        drop(held);
        second_took.recv().unwrap();
    });
}

#[test]
fn a_switch_waits_for_the_one_in_progress_on_a_data_directorys_registry() {
    let dir = tempfile::tempdir().unwrap();
    let open = || Registry::open(&dir.path().join("registry")).unwrap();
    a_second_switch_waits_for_the_first(&open(), &open());
}

#[test]
fn a_switch_waits_for_the_one_in_progress_on_a_shared_registry() {
    let url = isolated_url();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    a_second_switch_waits_for_the_first(
        &Registry::connect(&url, a.path(), "host-a").unwrap(),
        &Registry::connect(&url, b.path(), "host-b").unwrap(),
    );
}

/// A registry hands out no bytes under a hash they do not have. A shared
/// registry's host copy that was damaged is read again from the database
/// (before, the host kept failing on its copy after the database was
/// mended); bytes damaged in the database are refused, naming the version.
#[test]
fn damaged_component_bytes_are_never_handed_out_under_their_versions_hash() {
    let url = isolated_url();
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::connect(&url, dir.path(), "test-host").unwrap();
    let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
    let v1 = stored(&registry, &runtime, components::VERSIONED_V1);
    let bytes = std::fs::read(components::VERSIONED_V1).unwrap();
    let copy = dir.path().join("blobs").join(format!("{}.wasm", v1.hash));
    std::fs::write(&copy, b"damaged").unwrap();
    assert_eq!(registry.blob(&v1.hash).unwrap(), bytes);
    assert_eq!(std::fs::read(&copy).unwrap(), bytes, "the copy is mended");

    let mut database = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    database
        .execute(
            "UPDATE _slate.plugin_blobs SET bytes = substring(bytes from 1 for 1000)",
            &[],
        )
        .unwrap();
    std::fs::remove_file(&copy).unwrap();
    let damaged = registry.blob(&v1.hash).unwrap_err();
    assert!(
        matches!(&damaged, RegistryError::Damaged { hash, .. } if *hash == v1.hash),
        "{damaged}"
    );
    assert!(!copy.exists(), "damaged bytes are not kept as the copy");
    // Storing the component again (a deploy does) mends them, for every host.
    registry.store_blob(&v1.hash, &bytes).unwrap();
    std::fs::remove_file(&copy).unwrap();
    assert_eq!(registry.blob(&v1.hash).unwrap(), bytes);
    assert!(matches!(
        registry.store_blob(&v1.hash, b"other bytes"),
        Err(RegistryError::Damaged { .. })
    ));

    let local = Registry::open(&dir.path().join("local")).unwrap();
    local.store_blob(&v1.hash, &bytes).unwrap();
    let stored = dir
        .path()
        .join("local/blobs")
        .join(format!("{}.wasm", v1.hash));
    std::fs::write(&stored, b"not these bytes").unwrap();
    assert!(matches!(
        local.blob(&v1.hash),
        Err(RegistryError::Damaged { .. })
    ));
    local.store_blob(&v1.hash, &bytes).unwrap();
    assert_eq!(local.blob(&v1.hash).unwrap(), bytes);
}
