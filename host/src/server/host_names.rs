//! Which `Host` a server answers to, against DNS rebinding.
//!
//! A page on another site can point a name of its own at 127.0.0.1 (or
//! at any address the browser's machine reaches) and then read whatever a
//! server there answers to that name: the browser thinks it talks to the
//! page's own site. Such a request always carries the page's name in
//! `Host`. So a server answers only to names that cannot be rebound: an
//! IP address, `localhost` (and `*.localhost`, which browsers keep on the
//! machine), and the names its operator lists (`--allowed-host`, the
//! name `--listen` was given among them), or to any name when told so
//! (`*`). This holds on every address it listens on: one listening on
//! 0.0.0.0 is reached through loopback too.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;

/// The `Host` names a server answers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    /// Any name at all: no check.
    any: bool,
    /// Names besides the addresses and `localhost`, lower case; one that
    /// starts with `*.` stands for every name below it.
    names: Vec<String>,
}

/// A name `--allowed-host` cannot take, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--allowed-host {name:?}: {reason}")]
pub struct BadHostName {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl AllowedHosts {
    /// Any `Host` at all.
    pub fn any() -> Self {
        AllowedHosts {
            any: true,
            names: Vec::new(),
        }
    }

    /// What a server answers to, given the names its operator listed
    /// (`*` for any; an empty entry, from a trailing comma or an empty
    /// variable, lists nothing): IP addresses, `localhost`, and these.
    pub fn listed(listed: &[String]) -> Result<Self, BadHostName> {
        let mut names = Vec::with_capacity(listed.len());
        for name in listed.iter().map(|name| name.trim()) {
            match name {
                "" => {}
                "*" => return Ok(Self::any()),
                name => names.push(checked_name(name)?),
            }
        }
        Ok(AllowedHosts { any: false, names })
    }

    /// Whether a request whose `Host` (or HTTP/2 authority) is `authority`
    /// is answered. A port, a trailing dot and letter case do not count.
    pub fn allows(&self, authority: &str) -> bool {
        if self.any {
            return true;
        }
        let Some(name) = host_of(authority) else {
            return false;
        };
        if is_address(&name) {
            return true;
        }
        let label_character = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        if !name.bytes().all(label_character) {
            return false;
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        self.names
            .iter()
            .any(|allowed| match allowed.strip_prefix('*') {
                Some(suffix) => name.ends_with(suffix),
                None => *allowed == name,
            })
    }
}

/// A listed name as it is compared: lower case, without a trailing dot.
fn checked_name(name: &str) -> Result<String, BadHostName> {
    let bad = |reason| BadHostName {
        name: name.to_string(),
        reason,
    };
    let lowered = name.trim_end_matches('.').to_ascii_lowercase();
    let labels = lowered.strip_prefix("*.").unwrap_or(&lowered);
    if labels.is_empty() {
        return Err(bad("give a host name, such as slate.example.com"));
    }
    if labels.contains(':') || name.contains('/') {
        return Err(bad(
            "give the name alone, without a scheme, a port or a path",
        ));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !labels.split('.').all(label_ok) {
        return Err(bad(
            "a host name is dot-separated labels of letters, digits, `-` and `_` (`*.` may \
             start it, for every name below)",
        ));
    }
    Ok(lowered)
}

/// The host of an authority (`name`, `name:port`, `[v6]`, `[v6]:port`),
/// lower case and without a trailing dot; `None` when it is no authority
/// (a port that is no number, text after `]`, a colon in a name).
fn host_of(authority: &str) -> Option<String> {
    let port_ok =
        |port: &str| port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let close = bracketed.find(']')?;
            let after = &bracketed[close + 1..];
            if !(after.is_empty() || after.strip_prefix(':').is_some_and(port_ok)) {
                return None;
            }
            &authority[..close + 2]
        }
        None => match authority.split_once(':') {
            Some((host, port)) if port_ok(port) => host,
            Some(_) => return None,
            None => authority,
        },
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether `host` is an IP address (IPv6 in brackets), which no page can
/// rebind: it names the machine the browser reaches, not a site's.
fn is_address(host: &str) -> bool {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => host.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// Refuses a request whose `Host` the server does not answer to (421
/// Misdirected Request, naming the host and the option that admits it),
/// and one with two `Host` headers. A request without one (HTTP/1.0) is
/// answered: every browser sends it.
pub async fn refuse_other_hosts(
    State(allowed): State<AllowedHosts>,
    request: Request,
    next: Next,
) -> Response {
    let hosts = request.headers().get_all(header::HOST);
    if hosts.iter().count() > 1 {
        return ApiError::bad_field(
            "host",
            "the Host header is given more than once: send it once",
        )
        .into_response();
    }
    let header = match hosts.iter().next().map(|host| host.to_str()) {
        Some(Ok(host)) => Some(host.to_string()),
        Some(Err(_)) => {
            return ApiError::bad_field("host", "the Host header is not visible ASCII")
                .into_response();
        }
        None => None,
    };
    // An absolute-form target (`GET http://name/ HTTP/1.1`) names the host
    // too, and wins over the header (RFC 9112 3.2.2): both must pass.
    let target = request.uri().authority().map(|a| a.as_str().to_string());
    if let Some(authority) = header
        .into_iter()
        .chain(target)
        .find(|authority| !allowed.allows(authority))
    {
        return ApiError::with_status(
            StatusCode::MISDIRECTED_REQUEST,
            Some("host"),
            format!(
                "this server does not answer to the host `{}`: a page of another site can point \
                 a name at it (DNS rebinding). Reach it by its address or `localhost`, or start \
                 it with --allowed-host NAME for each name it is reached by",
                crate::printable::quoted(&authority, 100)
            ),
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(listed: &[&str]) -> AllowedHosts {
        let listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
        AllowedHosts::listed(&listed).unwrap()
    }

    #[test]
    fn a_server_answers_to_addresses_and_localhost_only() {
        let allowed = listing(&[]);
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "[::1]",
            "localhost:8080",
            "LOCALHOST.",
            "dash.localhost:8080",
            "10.0.0.5:80",
        ] {
            assert!(allowed.allows(host), "{host}");
        }
        for host in [
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
            "[::1",
            "[::1]evil.example",
            "[::1]:x@evil.example",
            "localhost:evil",
            "127.0.0.1:abc",
            "127.0.0.1:65536",
            "evil.example\\.localhost",
            "evil.example/.localhost",
            "127.0.0.1:",
            "::1",
            "",
            ":8080",
        ] {
            assert!(!allowed.allows(host), "{host}");
        }
    }

    #[test]
    fn listed_names_are_answered_with_any_port_or_case() {
        let allowed = listing(&["Slate.Example.com", "*.internal", ""]);
        assert!(allowed.allows("slate.example.com:8080"));
        assert!(allowed.allows("SLATE.example.com."));
        assert!(allowed.allows("a.b.internal"));
        assert!(!allowed.allows("internal"));
        assert!(!allowed.allows("notslate.example.com"));
        assert!(!allowed.allows("xinternal"));
    }

    #[test]
    fn a_star_answers_any_name_and_empty_entries_list_nothing() {
        assert_eq!(listing(&["a.example", "*"]), AllowedHosts::any());
        assert!(listing(&["*"]).allows("evil.example"));
        assert_eq!(listing(&["", " "]), listing(&[]));
    }

    #[test]
    fn a_name_that_is_no_host_name_is_refused_with_its_reason() {
        for (name, reason) in [
            (".", "give a host name"),
            ("[::1]", "without a scheme, a port"),
            ("*.", "dot-separated labels"),
            ("http://slate.example.com", "without a scheme"),
            ("slate.example.com:8080", "without a scheme, a port"),
            ("slate..example.com", "dot-separated labels"),
            ("slate example", "dot-separated labels"),
            ("a.*.example", "dot-separated labels"),
        ] {
            let error = AllowedHosts::listed(&[name.into()]).unwrap_err();
            assert!(error.to_string().contains(reason), "{name}: {error}");
        }
    }
}
