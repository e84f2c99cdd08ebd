//! Reading one section of `slate.toml`: the file may be missing (then the
//! section's defaults hold), unreadable, or wrong, and an error says which
//! file and, through its source, what is wrong where ([`TomlError`]: the
//! line and column, never the line's text, which can hold a secret).

use std::path::{Path, PathBuf};

/// Why `slate.toml` gave no section. The message names the file; the
/// source says what is wrong with it (a TOML error names the line, the
/// column and the key).
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError<E: std::error::Error + 'static> {
    /// The file exists but could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The file's section is wrong.
    #[error("{}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: E,
    },
}

/// The section `parse` reads from the file at `path`, or `default` when
/// there is no file.
pub fn load<T, E: std::error::Error + 'static>(
    path: &Path,
    default: impl FnOnce() -> T,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ConfigFileError<E>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).map_err(|source| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default()),
        Err(source) => Err(ConfigFileError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A TOML error in `slate.toml`: its message, line and column, never the
/// text of the line, as the `toml` crate's own error shows it. A
/// channel's webhook URL or token can stand on that line, and the error
/// reaches the terminal and the server's log. For the same reason a text
/// value the message quotes (`invalid type: string "..."`) is left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TomlError {
    /// What is wrong, on one line, without the text values it quoted.
    message: String,
    /// Where in the file, by bytes.
    span: Option<std::ops::Range<usize>>,
    /// The line and column (from 1) the span starts at.
    place: Option<(usize, usize)>,
}

impl std::fmt::Display for TomlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.place {
            Some((line, column)) => write!(
                f,
                "TOML parse error at line {line}, column {column}: {}",
                self.message
            ),
            None => f.write_str(&self.message),
        }
    }
}

impl TomlError {
    /// `error`, which `toml` gave for `text`.
    pub fn new(text: &str, error: &toml::de::Error) -> Self {
        let span = error.span();
        let place = span.as_ref().map(|span| {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            (line, column)
        });
        TomlError {
            message: crate::printable::one_line(&without_quoted_texts(error.message().trim()))
                .into_owned(),
            span,
            place,
        }
    }

    /// An error of a section's own check, told as TOML's are.
    pub fn custom(message: impl Into<String>) -> Self {
        TomlError {
            message: message.into(),
            span: None,
            place: None,
        }
    }

    /// What is wrong, without the place.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where in the file, by bytes, when TOML knows.
    pub fn span(&self) -> Option<std::ops::Range<usize>> {
        self.span.clone()
    }
}

/// Reads `text` as a `T`, with an error that never quotes the file.
pub fn from_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, TomlError> {
    toml::from_str(text).map_err(|error| TomlError::new(text, &error))
}

/// `message` with each value serde quotes in it (`string "..."` as Rust
/// escapes it, ``integer `5` ``, ``floating point `1.5` ``,
/// ``unknown variant `...` ``) told without it: a value in `slate.toml`
/// may be a secret written in the wrong place. Names of keys are kept.
pub(crate) fn without_quoted_texts(message: &str) -> String {
    const QUOTED: [(&str, char, &str); 5] = [
        ("string \"", '"', "a string (not repeated)"),
        ("integer `", '`', "an integer (not repeated)"),
        ("floating point `", '`', "a number (not repeated)"),
        ("character `", '`', "a character (not repeated)"),
        ("unknown variant `", '`', "unknown variant (not repeated)"),
    ];
    let mut told = String::with_capacity(message.len());
    let mut rest = message;
    while let Some((at, (opening, closing, instead))) = QUOTED
        .iter()
        .filter_map(|quoted| Some((rest.find(quoted.0)?, quoted)))
        .min_by_key(|(at, _)| *at)
    {
        told.push_str(&rest[..at]);
        told.push_str(instead);
        let mut escaped = false;
        let quoted = &rest[at + opening.len()..];
        // serde escapes no backtick inside backticks: such a value ends
        // where the message goes on (`, expected ...`, its last such
        // text: the value may hold that text too), if it does.
        let end = match (*closing, quoted.rfind("`, expected")) {
            ('`', Some(at)) => Some(at + 1),
            _ => quoted
                .char_indices()
                .find(|&(_, c)| {
                    let closes = c == *closing && !escaped;
                    escaped = *closing == '"' && c == '\\' && !escaped;
                    closes
                })
                .map(|(i, c)| i + c.len_utf8()),
        }
        .unwrap_or(quoted.len());
        rest = &quoted[end..];
    }
    told.push_str(rest);
    told
}

/// What is wrong with `name` as the name of something `slate.toml` defines
/// (an alert channel, a schedule), if anything: it must be seen and told
/// apart in listings, metrics and logs, so it may not be empty, begin or
/// end with white space, or hold a control character.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("the name is empty")
    } else if name.trim() != name {
        Some("the name begins or ends with white space")
    } else if name.chars().any(char::is_control) {
        Some("the name holds a control character")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Channel {
        url: String,
        headers: Option<std::collections::BTreeMap<String, String>>,
        timeout_secs: Option<f64>,
    }

    #[test]
    fn a_toml_error_names_the_line_and_column_but_never_shows_the_line() {
        let text = "# hooks\nurl = \"https://hooks.example/T0/B0/SECRET\n";
        let error = from_toml::<Channel>(text).unwrap_err();
        let shown = error.to_string();
        assert!(
            shown.starts_with("TOML parse error at line 2, column "),
            "{shown}"
        );
        assert!(
            !shown.contains("SECRET") && !shown.contains('\n'),
            "{shown}"
        );

        let text = "url = \"x\"\nheaders = { Authorization = \"Bearer SECRET\" \n";
        let shown = from_toml::<Channel>(text).unwrap_err().to_string();
        assert!(shown.contains("at line 2"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }

    #[test]
    fn a_text_value_a_type_error_quotes_is_left_out() {
        let text = "url = \"x\"\nheaders = \"Bearer SE\\\"CRET\"\ntimeout_secs = \"ten\"\n";
        let error = from_toml::<Channel>(text).unwrap_err();
        assert_eq!(
            error.message(),
            "invalid type: a string (not repeated), expected a map"
        );
        assert!(!error.to_string().contains("CRET"), "{error}");
        assert_eq!(
            error.span().map(|span| &text[span]),
            Some("\"Bearer SE\\\"CRET\"")
        );
        assert_eq!(
            without_quoted_texts("string \"a\", then string \"b\\\\\" and 5"),
            "a string (not repeated), then a string (not repeated) and 5"
        );
        // A message tells of one value (serde's errors do).
        assert_eq!(
            without_quoted_texts("invalid type: integer `99887766554433`, expected a string"),
            "invalid type: an integer (not repeated), expected a string"
        );
        assert_eq!(
            without_quoted_texts("unknown field `urll`, expected one of `url`, `url_env`"),
            "unknown field `urll`, expected one of `url`, `url_env`",
            "a key's name is kept"
        );
        for value in ["a`SECRET`b", "x`, expected SECRET"] {
            assert_eq!(
                without_quoted_texts(&format!(
                    "unknown variant `{value}`, expected `slack` or `webhook`"
                )),
                "unknown variant (not repeated), expected `slack` or `webhook`"
            );
        }
    }
}
