//! A real HTTP receiver for alert tests: an axum server on loopback that
//! answers as it is told (200, 404 `no_service`, 410, 429 with
//! `Retry-After`, 500, a hang past the timeout, Slack's 400
//! `invalid_payload` to an empty probe, or a 301 to a page any GET finds)
//! and records every request it got.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 `ok`.
    Ok,
    /// 404 `no_service`: a deleted Slack hook.
    NoService,
    /// 410 `channel_is_archived`.
    Gone,
    /// 429 with `Retry-After: 1`.
    TooMany,
    /// 500.
    ServerError,
    /// No answer for this long.
    Hang(Duration),
    /// 200 `ok`, after this long: a slow receiver.
    Slow(Duration),
    /// Slack alive: 400 `invalid_payload` to an empty body, 200 otherwise.
    SlackAlive,
    /// 301 to `/moved`, which answers any GET 200: a client that follows
    /// it turns the POST into a GET that delivers nothing, and sees 200.
    Moved,
    /// 200 to a webhook canary, 500 to anything else: a receiver whose
    /// health check passes while it refuses every alert.
    CanariesOnly,
}

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, as text.
    pub body: String,
    /// Whether it was answered 2xx.
    pub accepted: bool,
}

impl Received {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    answer: Option<Answer>,
    received: Vec<Received>,
    /// Requests come in, answered or not yet.
    arrived: usize,
}

/// The receiver; stops when dropped.
pub struct Receiver {
    address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    /// Starts a receiver answering `answer`.
    pub fn start(answer: Answer) -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Mutex::new(Shared {
            answer: Some(answer),
            ..Shared::default()
        }));
        let app = Router::new()
            .route("/{*path}", post(receive).get(landing))
            .with_state(shared.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            address,
            shared,
            _runtime: runtime,
        }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.address)
    }

    /// Answers `answer` from now on.
    pub fn answer(&self, answer: Answer) {
        self.shared.lock().unwrap().answer = Some(answer);
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// How many requests came in, the ones still waiting for their answer
    /// included.
    pub fn arrived(&self) -> usize {
        self.shared.lock().unwrap().arrived
    }

    /// The requests answered 2xx, as JSON.
    pub fn accepted(&self) -> Vec<serde_json::Value> {
        self.received()
            .iter()
            .filter(|r| r.accepted)
            .map(Received::json)
            .collect()
    }
}

async fn receive(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = {
        let mut shared = shared.lock().unwrap();
        shared.arrived += 1;
        shared.answer.unwrap_or(Answer::Ok)
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let (status, text, accepted): (StatusCode, &str, bool) = match answer {
        Answer::Ok => (StatusCode::OK, "ok", true),
        Answer::NoService => (StatusCode::NOT_FOUND, "no_service", false),
        Answer::Gone => (StatusCode::GONE, "channel_is_archived", false),
        Answer::TooMany => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", false),
        Answer::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "oops", false),
        Answer::SlackAlive if body.is_empty() => {
            (StatusCode::BAD_REQUEST, "invalid_payload", false)
        }
        Answer::SlackAlive => (StatusCode::OK, "ok", true),
        Answer::CanariesOnly if body.contains("\"event\":\"canary\"") => {
            (StatusCode::OK, "ok", true)
        }
        Answer::CanariesOnly => (StatusCode::INTERNAL_SERVER_ERROR, "oops", false),
        Answer::Moved => (StatusCode::MOVED_PERMANENTLY, "moved", false),
        Answer::Slow(wait) => {
            tokio::time::sleep(wait).await;
            (StatusCode::OK, "ok", true)
        }
        Answer::Hang(wait) => {
            shared.lock().unwrap().received.push(Received {
                headers,
                body,
                accepted: false,
            });
            tokio::time::sleep(wait).await;
            return (StatusCode::GATEWAY_TIMEOUT, "late").into_response();
        }
    };
    shared.lock().unwrap().received.push(Received {
        headers,
        body,
        accepted,
    });
    match answer {
        Answer::TooMany => (status, [("retry-after", "1")], text).into_response(),
        Answer::Moved => (status, [("location", "/moved")], text).into_response(),
        _ => (status, text).into_response(),
    }
}

/// Any GET: a page, answered 200, recorded with its empty body.
async fn landing(State(shared): State<Arc<Mutex<Shared>>>, headers: HeaderMap) -> Response {
    shared.lock().unwrap().received.push(Received {
        headers,
        body: String::new(),
        accepted: true,
    });
    (StatusCode::OK, "<html>welcome</html>").into_response()
}
