//! Builds every processor under `plugins/` into a component and bundles them
//! into the `slate` binary, so the standard pipeline runs with no setup.
//! The test fixture components under `tests/components/` are built in the
//! same cargo invocation; the integration tests find them through
//! `test_components.rs` in `OUT_DIR`.

use slate_component_build::{build_components, crates_in, workspace_root};

fn main() {
    let root = workspace_root();
    let plugins: Vec<String> = crates_in(&root.join("plugins"))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let fixtures: Vec<String> = crates_in(&root.join("tests/components"))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let all: Vec<String> = plugins.iter().chain(&fixtures).cloned().collect();
    let mut built = build_components(
        &all,
        &[
            root.join("plugins"),
            root.join("wit"),
            root.join("tests/components"),
        ],
    );
    let fixtures_built = built.split_off(plugins.len());
    let mut constants = String::new();
    for component in fixtures_built {
        constants.push_str(&format!(
            "/// The `{}` fixture component.\npub const {}: &str = {:?};\n",
            component.package,
            component.package.to_uppercase().replace('-', "_"),
            component.path
        ));
    }
    let mut source = String::from(
        "/// The processors built from `plugins/`, bundled into the binary.\npub const PLUGINS: &[BundledPlugin] = &[\n",
    );
    for component in built {
        source.push_str(&format!(
            "    BundledPlugin {{ package: {:?}, bytes: include_bytes!({:?}) }},\n",
            component.package, component.path
        ));
    }
    source.push_str("];\n");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("bundled_plugins.rs"), source).expect("write bundled_plugins.rs");
    std::fs::write(out.join("test_components.rs"), constants).expect("write test_components.rs");
}
