//! JavaScript processors' stack traces, given in the author's files.
//!
//! `slate build` bundles a JavaScript processor with its SDK into one
//! module (esbuild) before componentize-js snapshots it, so the engine's
//! stack frames name the bundle: `teamsPlaying@app.js:565:37`, a line the
//! author never wrote. The build keeps esbuild's source map in the
//! component, as the custom section [`SECTION`] ([`embed`]); a host that
//! loads the component reads it back ([`BundleSourceMap::of_component`])
//! and gives each frame of the bundle that a run logs at its place in the
//! author's files: `teamsPlaying@app.js:24:21`. A component without the
//! section (Rust, Python, or built before) logs what its guest wrote.

use std::path::Path;

/// The name of the custom section that holds a bundle's source map.
pub const SECTION: &str = "slate:source-map";

/// The source map of a JavaScript processor's bundle.
pub struct BundleSourceMap {
    /// The bundle's file name as the engine's frames give it (`app.js`).
    bundle: String,
    map: sourcemap::SourceMap,
}

impl std::fmt::Debug for BundleSourceMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleSourceMap")
            .field("bundle", &self.bundle)
            .field("sources", &self.map.sources().count())
            .finish()
    }
}

impl BundleSourceMap {
    /// The map `component` carries in its [`SECTION`], if it has one. An
    /// unreadable one counts as none: its runs' logs keep the bundle's
    /// positions, which is all they had before.
    pub fn of_component(component: &[u8]) -> Option<Self> {
        Self::of_map(top_level_custom_section(component, SECTION)?)
    }

    /// The map `json` (esbuild's, as [`for_the_component`] keeps it), if it
    /// is one that names its bundle.
    pub fn of_map(json: &[u8]) -> Option<Self> {
        let map = sourcemap::SourceMap::from_slice(json).ok()?;
        let bundle = map.get_file()?.to_string();
        Some(BundleSourceMap { bundle, map })
    }

    /// `text` with every frame of the bundle, `NAME@BUNDLE:LINE:COLUMN`
    /// (lines and columns from 1, as the engine gives them), given at its
    /// place in the author's files, and so every position `BUNDLE:LINE:
    /// COLUMN` that starts a line or a word (the engine's report of an
    /// error in the module's top level, as a build prints it). A position
    /// the map does not cover, and everything else, stays as it is.
    /// Frames are mapped only while the text is shorter than `cap` bytes:
    /// a map whose sources have long names cannot make one logged line
    /// larger than a log line may be.
    pub fn map_frames(&self, text: &str, cap: usize) -> String {
        let marker = format!("{}:", self.bundle);
        let mut mapped = String::with_capacity(text.len());
        let mut rest = text;
        while mapped.len() < cap
            && let Some(at) = rest.find(&marker)
        {
            let (before, from_marker) = rest.split_at(at);
            let position = &from_marker[marker.len()..];
            let follows = before.chars().next_back().or(mapped.chars().next_back());
            let starts_a_word = follows.is_none_or(|c| c == '@' || c.is_whitespace());
            match self.frame_at(position).filter(|_| starts_a_word) {
                Some((original, consumed)) => {
                    match before.strip_suffix('@') {
                        Some(function) => {
                            mapped.push_str(&self.with_authors_function_name(function));
                            mapped.push('@');
                        }
                        None => mapped.push_str(before),
                    }
                    mapped.push_str(&original);
                    rest = &position[consumed..];
                }
                None => {
                    mapped.push_str(before);
                    mapped.push_str(&marker);
                    rest = position;
                }
            }
        }
        mapped.push_str(rest);
        mapped
    }

    /// `before`, the text up to a mapped frame's `@`, with the frame's
    /// function named as the author named it. esbuild renames a function
    /// whose name another module of the bundle also uses, adding a number
    /// (`readColumnBatch2`), and lists the name it renamed in the map's
    /// `names`: a name the map does not list that is a listed one and a
    /// number is given back as the listed one.
    fn with_authors_function_name<'a>(&self, before: &'a str) -> std::borrow::Cow<'a, str> {
        let is_identifier = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_identifier(*c))
            .last()
            .map_or(before.len(), |(at, _)| at);
        let name = &before[start..];
        let unnumbered = name.trim_end_matches(|c: char| c.is_ascii_digit());
        let listed = |wanted: &str| self.map.names().any(|listed| listed == wanted);
        if unnumbered.len() == name.len()
            || unnumbered.is_empty()
            || listed(name)
            || !listed(unnumbered)
        {
            return before.into();
        }
        format!("{}{unnumbered}", &before[..start]).into()
    }

    /// The author's `SOURCE:LINE:COLUMN` for the bundle's `LINE:COLUMN` at
    /// the start of `position`, and how many bytes of it that took.
    fn frame_at(&self, position: &str) -> Option<(String, usize)> {
        let (line, after_line) = leading_number(position)?;
        let after_colon = after_line.strip_prefix(':')?;
        let (column, after_column) = leading_number(after_colon)?;
        let consumed = position.len() - after_column.len();
        let token = self
            .map
            .lookup_token(line.checked_sub(1)?, column.saturating_sub(1))?;
        // A token on an earlier line maps code the map says nothing of.
        if token.get_dst_line() != line - 1 {
            return None;
        }
        let source = token.get_source()?;
        // A map that moves a line or column below the first (a bogus or
        // hostile one) leaves it where the engine said.
        let (line, column) = (
            token.get_src_line().checked_add(1)?,
            token.get_src_col().checked_add(1)?,
        );
        Some((format!("{source}:{line}:{column}"), consumed))
    }
}

/// The decimal number at the start of `text`, and the text after it.
fn leading_number(text: &str) -> Option<(u32, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let number = text[..digits].parse().ok()?;
    Some((number, &text[digits..]))
}

/// The payload of the custom section `name` of `component` itself (not of
/// a module or component nested in it), if it has one.
fn top_level_custom_section<'a>(component: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut parser = wasmparser::Parser::new(0);
    let mut offset = 0;
    loop {
        let chunk = parser.parse(&component[offset..], true).ok()?;
        let wasmparser::Chunk::Parsed { consumed, payload } = chunk else {
            return None;
        };
        offset += consumed;
        match payload {
            wasmparser::Payload::CustomSection(section) if section.name() == name => {
                return Some(section.data());
            }
            wasmparser::Payload::ModuleSection {
                unchecked_range, ..
            }
            | wasmparser::Payload::ComponentSection {
                unchecked_range, ..
            } => {
                // The parent parser goes on after the nested one's bytes.
                offset = unchecked_range.end;
            }
            wasmparser::Payload::End(_) => return None,
            _ => {}
        }
    }
}

/// Appends `map_json`, a source map of the bundle, to `component` as the
/// custom section [`SECTION`]: a section id, its size, its name's size and
/// name, then the map, each size as an unsigned LEB128.
pub fn embed(component: &mut Vec<u8>, map_json: &[u8]) {
    let mut section = Vec::with_capacity(map_json.len() + SECTION.len() + 5);
    push_leb128(&mut section, SECTION.len());
    section.extend_from_slice(SECTION.as_bytes());
    section.extend_from_slice(map_json);
    component.push(0);
    push_leb128(component, section.len());
    component.extend_from_slice(&section);
}

fn push_leb128(bytes: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(byte);
            return;
        }
        bytes.push(byte | 0x80);
    }
}

/// esbuild's source map of the bundle `bundle`, made ready to keep: it
/// names the bundle's file (as the engine's frames do), and its sources
/// are given relative to `source_dir` (the staged processor folder), so
/// that two builds of the same files in different folders keep the same
/// map: `app.js`, `lib/teams.js`, and the SDK's files as `slate-sdk/...`.
pub fn for_the_component(
    map_json: &[u8],
    bundle: &Path,
    source_dir: &Path,
) -> Result<Vec<u8>, String> {
    let mut map: serde_json::Value =
        serde_json::from_slice(map_json).map_err(|e| format!("esbuild's source map: {e}"))?;
    let file = (bundle.file_name()).map(|name| name.to_string_lossy().into_owned());
    let bundle_dir = bundle.parent().unwrap_or(Path::new("."));
    let fields = map
        .as_object_mut()
        .ok_or("esbuild's source map is no JSON object")?;
    fields.insert("file".into(), file.into());
    let sources = (fields.get_mut("sources").and_then(|s| s.as_array_mut()))
        .ok_or("esbuild's source map lists no sources")?;
    for source in sources {
        let Some(text) = source.as_str() else {
            continue;
        };
        let absolute = normalise(&bundle_dir.join(text));
        let relative = absolute
            .strip_prefix(normalise(source_dir))
            .map_or(text.to_string(), |path| path.display().to_string());
        *source = serde_json::Value::String(match relative.strip_prefix("node_modules/") {
            Some(package) => package.to_string(),
            None => relative,
        });
    }
    serde_json::to_vec(&map).map_err(|e| format!("esbuild's source map: {e}"))
}

/// `path` without `.` and `..` parts, as far as its own words tell.
fn normalise(path: &Path) -> std::path::PathBuf {
    let mut normal = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map of a two-line bundle `app.js`: its line 2, from column 4,
    /// comes from `lib/teams.js` line 7, column 2 (all from 0).
    fn a_map() -> Vec<u8> {
        let mut builder = sourcemap::SourceMapBuilder::new(Some("app.js"));
        builder.add(1, 4, 6, 2, Some("lib/teams.js"), None, false);
        let mut json = Vec::new();
        builder.into_sourcemap().to_writer(&mut json).unwrap();
        json
    }

    /// The smallest component: its preamble alone.
    const EMPTY_COMPONENT: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn a_map_embedded_in_a_component_is_read_back_from_it() {
        let mut component = EMPTY_COMPONENT.to_vec();
        embed(&mut component, &a_map());
        let validated = wasmparser::Validator::new_with_features(
            wasmparser::WasmFeatures::default() | wasmparser::WasmFeatures::COMPONENT_MODEL,
        )
        .validate_all(&component)
        .map(drop);
        assert!(validated.is_ok(), "{validated:?}");

        let map = BundleSourceMap::of_component(&component).expect("the map");

        assert_eq!(map.bundle, "app.js");
    }

    #[test]
    fn a_component_without_the_section_has_no_map() {
        assert!(BundleSourceMap::of_component(&EMPTY_COMPONENT).is_none());
        assert!(BundleSourceMap::of_component(b"not a component").is_none());
    }

    #[test]
    fn frames_of_the_bundle_are_given_in_the_authors_files_and_the_rest_is_kept() {
        let mut component = EMPTY_COMPONENT.to_vec();
        embed(&mut component, &a_map());
        let map = BundleSourceMap::of_component(&component).unwrap();

        let stack = "Oops: bad\nteams@app.js:2:9\nouter@app.js:1:1\n\
                     process@app.bindings.js:2:5\nlast@app.js:2:";

        assert_eq!(
            map.map_frames(stack, 4096),
            "Oops: bad\nteams@lib/teams.js:7:3\nouter@app.js:1:1\n\
             process@app.bindings.js:2:5\nlast@app.js:2:"
        );
    }

    /// A build's report of an error in the module's top level gives the
    /// position alone, at the start of a line: mapped too; one inside a
    /// longer file name (`myapp.js:2:9`) is not the bundle's.
    #[test]
    fn a_position_that_starts_a_line_is_mapped_and_one_inside_a_name_is_not() {
        let mut component = EMPTY_COMPONENT.to_vec();
        embed(&mut component, &a_map());
        let map = BundleSourceMap::of_component(&component).unwrap();

        let report = "Exception while evaluating top-level script\napp.js:2:9 TypeError: x\n\
                      Stack:\n  @app.js:2:9\nmyapp.js:2:9";

        assert_eq!(
            map.map_frames(report, 4096),
            "Exception while evaluating top-level script\nlib/teams.js:7:3 TypeError: x\n\
             Stack:\n  @lib/teams.js:7:3\nmyapp.js:2:9"
        );
    }

    /// A function esbuild renamed for a clash between modules
    /// (`readColumnBatch2`) is given its author's name, which the map lists;
    /// a name the author gave with a number (`value2`, listed) is kept, as
    /// is one the map does not know unnumbered.
    #[test]
    fn a_function_esbuild_numbered_is_given_its_authors_name() {
        let mut builder = sourcemap::SourceMapBuilder::new(Some("app.js"));
        builder.add(
            1,
            4,
            6,
            2,
            Some("lib/batch.js"),
            Some("readColumnBatch"),
            false,
        );
        builder.add(2, 0, 9, 0, Some("lib/batch.js"), Some("value2"), false);
        let mut json = Vec::new();
        builder.into_sourcemap().to_writer(&mut json).unwrap();
        let mut component = EMPTY_COMPONENT.to_vec();
        embed(&mut component, &json);
        let map = BundleSourceMap::of_component(&component).unwrap();

        let stack = "readColumnBatch2@app.js:2:9\nvalue2@app.js:3:1\nteams3@app.js:2:9\n\
                     readColumnBatch2@other.js:2:9";

        assert_eq!(
            map.map_frames(stack, 4096),
            "readColumnBatch@lib/batch.js:7:3\nvalue2@lib/batch.js:10:1\n\
             teams3@lib/batch.js:7:3\nreadColumnBatch2@other.js:2:9"
        );
    }

    /// A map of `app.js` whose one mapping is `mappings`, to source
    /// `source`.
    fn component_with_map(source: &str, mappings: &str) -> Vec<u8> {
        let map = serde_json::json!({
            "version": 3, "file": "app.js", "sources": [source], "names": [],
            "mappings": mappings,
        });
        let mut component = EMPTY_COMPONENT.to_vec();
        embed(&mut component, map.to_string().as_bytes());
        component
    }

    #[test]
    fn a_map_that_moves_a_frame_before_the_first_line_leaves_it_as_it_was() {
        // Line delta -1 from the first source line.
        let map = BundleSourceMap::of_component(&component_with_map("neg.js", "AADA")).unwrap();

        assert_eq!(map.map_frames("f@app.js:1:1", 4096), "f@app.js:1:1");
    }

    #[test]
    fn long_source_names_cannot_grow_a_line_past_the_cap() {
        let long = "s".repeat(60_000);
        let map = BundleSourceMap::of_component(&component_with_map(&long, "AAAA")).unwrap();
        let frames = "x@app.js:1:1 ".repeat(300);

        let mapped = map.map_frames(&frames, 4096);

        assert!(mapped.len() < 4096 + 60_100, "{}", mapped.len());
        assert!(mapped.starts_with(&format!("x@{long}:1:1 ")));
        assert!(mapped.ends_with("x@app.js:1:1 "));
    }

    #[test]
    fn the_kept_map_names_the_bundle_and_its_sources_from_the_processor_folder() {
        let esbuild = br#"{"version":3,"sources":["../src-x/app.js","../src-x/node_modules/slate-sdk/batch.js"],"mappings":""}"#;

        let map = for_the_component(
            esbuild,
            Path::new("/tmp/bundle-y/app.js"),
            Path::new("/tmp/src-x"),
        )
        .unwrap();

        let map: serde_json::Value = serde_json::from_slice(&map).unwrap();
        assert_eq!(map["file"], "app.js");
        assert_eq!(
            map["sources"],
            serde_json::json!(["app.js", "slate-sdk/batch.js"])
        );
    }
}
