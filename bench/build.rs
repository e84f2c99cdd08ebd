//! Builds the benchmark components under `bench/components/`.

use slate_component_build::{build_components, crates_in, workspace_root};

fn main() {
    let root = workspace_root();
    let dir = root.join("bench/components");
    let packages: Vec<String> = crates_in(&dir).into_iter().map(|(name, _)| name).collect();
    let built = build_components(
        &packages,
        &[dir, root.join("wit"), root.join("plugins/sdk")],
    );
    let mut source = String::new();
    for component in built {
        source.push_str(&format!(
            "/// The `{}` benchmark component.\npub const {}: &str = {:?};\n",
            component.package,
            component.package.to_uppercase().replace('-', "_"),
            component.path
        ));
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("bench_components.rs"), source).expect("write bench_components.rs");
}
