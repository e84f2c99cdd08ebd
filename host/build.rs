//! Builds every processor under `plugins/` into a component and bundles them
//! into the `slate` binary, so the standard pipeline runs with no setup. The
//! test fixture components are built by `tests/fixtures`, for the tests
//! only. On Linux it also compiles the frozen-clock library that
//! reproducible Python and JavaScript builds preload
//! (`src/build/reproducible/`).

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
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        build_frozen_clock(&out.join("frozen_clock.so"));
    }
}

/// Compiles `src/build/reproducible/linux/frozen_clock.c` into a shared
/// library at `library`.
fn build_frozen_clock(library: &std::path::Path) {
    let source = "src/build/reproducible/linux/frozen_clock.c";
    println!("cargo:rerun-if-changed={source}");
    let status = cc::Build::new()
        .get_compiler()
        .to_command()
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(library)
        .arg(source)
        .status()
        .expect("run the C compiler for the frozen-clock library");
    assert!(status.success(), "compiling {source} failed: {status}");
}
