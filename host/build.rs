//! Builds every processor under `plugins/` into a component and bundles them
//! into the `slate` binary, so the standard pipeline runs with no setup. The
//! test fixture components are built by `tests/fixtures`, for the tests
//! only.

use slate_component_build::{build_components, crates_in, workspace_root};

fn main() {
    let root = workspace_root();
    let plugins: Vec<String> = crates_in(&root.join("plugins"))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let built = build_components(&plugins, &[root.join("plugins"), root.join("wit")]);
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
}
