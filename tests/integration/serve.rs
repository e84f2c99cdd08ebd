//! The HTTP service's router, called with `oneshot` (no socket): every
//! endpoint's success path, and each bad request and authentication case.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value as Json, json};
use slate::executor::Executor;
use slate::liveness::LeaseConfig;
use slate::plugin::{RunLimits, Runtime, content_hash};
use slate::registry::Registry;
use slate::runs::{NewRun, RunFilter, Trigger};
use slate::schema::{Column, ColumnMode, ColumnType};
use slate::server::metrics::Metrics;
use slate::server::{AppState, BearerToken, ServedHost, ServerConfig, StartingSet, router};
use slate::store::{EmbeddedStore, RunLedger, Store, Tables};
use tower::ServiceExt;

use crate::support::{
    assert_contains, components, date, listed_plugin, plugin_dir, season, shared_compiled_cache,
};
use slate::demo::load_season;

pub(crate) const TOKEN: &str = "test-token-0123456789";

/// A served host on a fresh store and registry.
pub(crate) struct Served {
    state: AppState,
    pub(crate) store: Arc<EmbeddedStore>,
    _dir: tempfile::TempDir,
}

impl Served {
    pub(crate) fn new() -> Served {
        Served::configured(|_| {}, None)
    }

    /// A served host that asks for the token on reads too.
    pub(crate) fn protecting_reads() -> Served {
        Served::configured(|c| c.protect_reads = true, None)
    }

    pub(crate) fn configured(
        configure: impl FnOnce(&mut ServerConfig),
        plugin_dir: Option<PathBuf>,
    ) -> Served {
        Served::with(configure, plugin_dir, RunLimits::default(), 2)
    }

    fn with(
        configure: impl FnOnce(&mut ServerConfig),
        plugin_dir: Option<PathBuf>,
        limits: RunLimits,
        workers: usize,
    ) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(&dir.path().join("slate.db")).unwrap());
        let runtime = Arc::new(Runtime::new(Some(&shared_compiled_cache())).unwrap());
        let registry = Arc::new(Registry::open(&dir.path().join("registry")).unwrap());
        let metrics = Arc::new(Metrics::new());
        let executor = Executor::new(
            store.clone() as Arc<dyn Store>,
            "router-test",
            limits,
            LeaseConfig::default(),
        )
        .unwrap()
        .with_observer(metrics.clone());
        let starting =
            StartingSet::load(&runtime, &registry, plugin_dir.as_deref(), store.as_ref()).unwrap();
        let host = ServedHost::new(
            executor, runtime, registry, plugin_dir, workers, metrics, starting,
        );
        let mut config = ServerConfig::new(BearerToken::new(TOKEN));
        configure(&mut config);
        Served {
            state: AppState {
                config: Arc::new(config),
                host: Arc::new(host),
            },
            store,
            _dir: dir,
        }
    }

    pub(crate) fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Sends one request; answers the status and the body (JSON when it parses).
    async fn call(&self, request: Request<Body>) -> (StatusCode, Json) {
        let response = self.router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    pub(crate) async fn get(&self, uri: &str) -> (StatusCode, Json) {
        self.call(get(uri)).await
    }

    /// The `slate-truncated` header of `GET uri`.
    async fn truncated(&self, uri: &str) -> String {
        let response = self.router().oneshot(get(uri)).await.unwrap();
        let header = &response.headers()["slate-truncated"];
        header.to_str().unwrap().to_string()
    }

    async fn post_json(&self, uri: &str, body: Json) -> (StatusCode, Json) {
        self.call(json_post(uri, body)).await
    }

    async fn put_component(&self, name: &str, bytes: Vec<u8>) -> (StatusCode, Json) {
        let request = authorized(
            Request::put(format!("/plugins/{name}")),
            "application/wasm",
            bytes,
        );
        self.call(request).await
    }

    /// Asks to undeploy `name`: `DELETE /plugins/{name}`, with the token.
    async fn undeploy(&self, name: &str) -> (StatusCode, Json) {
        let request = authorized(
            Request::delete(format!("/plugins/{name}")),
            "application/json",
            Body::empty(),
        );
        self.call(request).await
    }

    /// Deploys `bytes` as `name` (which must be accepted), then asks for a
    /// run of it on `date`: the status and answer of `POST /process-date`.
    async fn deploy_then_process(
        &self,
        name: &str,
        bytes: Vec<u8>,
        date: &str,
    ) -> (StatusCode, Json) {
        let (status, deployed) = self.put_component(name, bytes).await;
        assert_eq!(status, StatusCode::OK, "{deployed}");
        self.post_json(
            "/process-date",
            json!({"processors": [name], "analysis_date": date}),
        )
        .await
    }

    /// Deploys the fixture `component`, a version of VersionedProcessor, as
    /// a step of a test's set-up: its answer is left to the steps after.
    async fn deploy_versioned(&self, component: &str) {
        self.put_component("VersionedProcessor", fixture(component))
            .await;
    }

    fn run_count(&self) -> usize {
        self.store.runs(&RunFilter::default()).unwrap().len()
    }
}

/// The request `builder` makes, with the bearer token, `content_type` and `body`.
pub(crate) fn authorized(
    builder: axum::http::request::Builder,
    content_type: &str,
    body: impl Into<Body>,
) -> Request<Body> {
    builder
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

/// An authorized POST of the JSON `body` to `uri`.
fn json_post(uri: &str, body: Json) -> Request<Body> {
    authorized(Request::post(uri), "application/json", body.to_string())
}

/// A GET of `uri`, without a token.
fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("the fixture was built")
}

/// Polls until `condition` holds, for at most a minute.
async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_built_against_contract_0_1_0_deploys_without_a_restart_and_runs() {
    let served = Served::new();
    let old = fixture(components::CONTRACT_V0_1_0);
    crate::contract::give_it_input(&*served.store, &old);

    let (status, answer) = served
        .deploy_then_process("ContractV010Processor", old, "2026-01-15")
        .await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["runs"][0]["status"], "success", "{answer}");
    assert_eq!(answer["runs"][0]["rows"], 3, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn process_date_runs_the_deployed_version_and_every_run_can_be_looked_up() {
    let served = Served::new();
    let v1 = fixture(components::VERSIONED_V1);
    let (status, deployed) = served.put_component("VersionedProcessor", v1.clone()).await;
    assert_eq!(status, StatusCode::OK, "{deployed}");
    assert_eq!(deployed["hash"], content_hash(&v1));

    let (status, answer) = served
        .post_json(
            "/process-date",
            json!({"processors": ["VersionedProcessor"], "analysis_date": "2026-01-11"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "one entry per processor: {answer}");
    assert_eq!(runs[0]["processor"], "VersionedProcessor");
    assert_eq!(runs[0]["status"], "success");
    assert_eq!(runs[0]["rows"], 2);
    assert_eq!(runs[0]["error"], Json::Null);
    let run_id = runs[0]["run_id"].as_str().unwrap();

    let (status, record) = served.get(&format!("/runs/{run_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["plugin_hash"], content_hash(&v1));
    assert_eq!(record["trigger"], "http");

    let by_hash = format!("/runs?plugin_hash={}", content_hash(&v1));
    let (status, listed) = served.get(&by_hash).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (_, none) = served.get("/runs?plugin_hash=0000").await;
    assert_eq!(none, json!([]));
    // The first 12 characters, as the tables print a hash, find it too:
    // before, only the whole hash did over HTTP (the CLI took both).
    let short = format!("/runs?plugin_hash={}", &content_hash(&v1)[..12]);
    let (_, listed) = served.get(&short).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // In capitals too; and what no hash could start with is refused, not
    // answered with nothing (as a rollback to it is).
    let capitals = short.replace(
        &content_hash(&v1)[..12],
        &content_hash(&v1)[..12].to_uppercase(),
    );
    let (_, listed) = served.get(&capitals).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{capitals}: {listed}");
    let (status, refused) = served.get("/runs?plugin_hash=zz").await;
    assert_eq!(
        (status, &refused["field"]),
        (StatusCode::BAD_REQUEST, &json!("plugin_hash"))
    );
    assert_contains(refused["error"].as_str().unwrap(), "\"zz\" is no hash");
    // A listing its limit cut says so in a header, its body still a list.
    assert_eq!(served.truncated("/runs?limit=1").await, "false");
    let (_, filtered) = served
        .get("/runs?date=2026-01-11&processor=VersionedProcessor&status=success")
        .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let (_, other_date) = served.get("/runs?date=2026-01-12").await;
    assert_eq!(other_date, json!([]));
    // A processor served but not run, or not run on the date asked, has
    // no runs: an empty list, not a refusal.
    for query in [
        "/runs?processor=PlayerGameSummaryProcessor",
        "/runs?processor=VersionedProcessor&date=2026-01-12",
    ] {
        let (status, none) = served.get(query).await;
        assert_eq!((status, none), (StatusCode::OK, json!([])), "{query}");
    }
    // Run again, two runs: the newest one alone is a cut listing.
    let (status, again) = served
        .post_json(
            "/process-date",
            json!({"processors": ["VersionedProcessor"], "analysis_date": "2026-01-11"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(served.truncated("/runs?limit=1").await, "true");
    assert_eq!(served.truncated("/runs?limit=2").await, "false");
}

#[tokio::test(flavor = "multi_thread")]
async fn process_date_with_async_answers_202_with_the_run_ids_at_once() {
    let served = Served::new();
    served.deploy_versioned(components::VERSIONED_V2).await;
    let (status, answer) = served
        .post_json(
            "/process-date",
            json!({"processors": ["VersionedProcessor"], "analysis_date": "2026-01-11", "async": true}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let run_id = answer["runs"][0]["run_id"].as_str().unwrap().to_string();
    eventually("the async run succeeded", async || {
        served.get(&format!("/runs/{run_id}")).await.1["status"] == "success"
    })
    .await;
    let (_, record) = served.get(&format!("/runs/{run_id}")).await;
    assert_eq!(record["rows_written"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn process_date_without_processors_runs_the_whole_dag() {
    let served = Served::new();
    served.deploy_versioned(components::VERSIONED_V1).await;
    let (status, answer) = served
        .post_json("/process-date", json!({"analysis_date": "2026-01-11"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let names: Vec<&str> = answer["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["processor"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        10,
        "nine bundled processors and the deployed one: {names:?}"
    );
    for expected in [
        "PlayerGameSummaryProcessor",
        "PointsPredictionProcessor",
        "VersionedProcessor",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    // Dependency order: an upstream comes before its downstream.
    let at = |name| names.iter().position(|n| *n == name).unwrap();
    assert!(at("PlayerGameSummaryProcessor") < at("PlayerDailyCacheProcessor"));
    assert!(at("MLFeatureStoreProcessor") < at("PointsPredictionProcessor"));
    assert_eq!(served.run_count(), 10);
}

/// `POST /process-date` claims a whole date at once, so each run begins
/// before its upstreams end; yet each reads their rows, and none is
/// outdated. Before, every run downstream of the first was, the moment the
/// request ended.
#[tokio::test(flavor = "multi_thread")]
async fn a_date_processed_over_http_leaves_no_run_outdated() {
    let served = Served::new();
    load_season(served.store.as_ref(), season()).unwrap();
    let (status, answer) = served
        .post_json("/process-date", json!({"analysis_date": "2026-01-11"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let succeeded = (answer["runs"].as_array().unwrap().iter())
        .filter(|run| run["status"] == "success")
        .count();
    assert!(succeeded >= 3, "{answer}");
    let (status, grid) = served.get("/api/grid?from=2026-01-11&to=2026-01-11").await;
    assert_eq!(status, StatusCode::OK, "{grid}");
    let outdated: Vec<&Json> = (grid["phases"].as_array().unwrap().iter())
        .flat_map(|phase| phase["rows"].as_array().unwrap())
        .filter(|row| row["cells"][0]["outdated"] == true)
        .map(|row| &row["processor"])
        .collect();
    assert!(outdated.is_empty(), "outdated: {outdated:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_a_4xx_naming_the_field_and_start_nothing() {
    let served = Served::configured(|c| c.max_body_bytes = 256, None);
    let lenient = [
        " 2026-01-10",
        "2026-1-5",
        "+2026-01-10",
        "-0001-01-01",
        "2199-01-01",
    ]
    .into_iter()
    .map(|date| {
        (
            "a lenient or out-of-range date",
            json_post("/process-date", json!({"analysis_date": date})),
            StatusCode::BAD_REQUEST,
            "analysis_date",
        )
    });
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = lenient
        .chain([(
            "a backfill ending out of range",
            json_post("/backfill", json!({"start_date": "2026-01-10", "end_date": "9999-12-31"})),
            StatusCode::BAD_REQUEST,
            "end_date",
        )])
        .chain(vec![
        (
            "an invalid date",
            json_post("/process-date", json!({"analysis_date": "2026-02-30"})),
            StatusCode::BAD_REQUEST,
            "analysis_date",
        ),
        (
            "an unknown processor",
            json_post(
                "/process-date",
                json!({"analysis_date": "2026-01-11", "processors": ["NopeProcessor"]}),
            ),
            StatusCode::BAD_REQUEST,
            "processors",
        ),
        (
            // Before: "unknown processors , X".
            "an empty processor name",
            json_post(
                "/process-date",
                json!({"analysis_date": "2026-01-11", "processors": ["PlayerGameSummaryProcessor", ""]}),
            ),
            StatusCode::BAD_REQUEST,
            "processors",
        ),
        (
            // A client's own filter that came out empty: not the whole
            // pipeline, which leaving the field out asks for.
            "an empty list of processors",
            json_post(
                "/process-date",
                json!({"analysis_date": "2026-01-11", "processors": []}),
            ),
            StatusCode::BAD_REQUEST,
            "processors",
        ),
        (
            "a wrong type",
            json_post(
                "/process-date",
                json!({"analysis_date": "2026-01-11", "processors": "PlayerGameSummaryProcessor"}),
            ),
            StatusCode::BAD_REQUEST,
            "processors",
        ),
        (
            "an unknown field",
            json_post(
                "/process-date",
                json!({"analysis_date": "2026-01-11", "date": "2026-01-11"}),
            ),
            StatusCode::BAD_REQUEST,
            "date",
        ),
        (
            "a missing field",
            json_post("/process-date", json!({})),
            StatusCode::BAD_REQUEST,
            "analysis_date",
        ),
        (
            "text after the object",
            authorized(
                Request::post("/process-date"),
                "application/json",
                r#"{"analysis_date": "2026-01-11"} {"async": true}"#,
            ),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "a field as a query parameter, which would be ignored",
            json_post("/process-date?async=true", json!({"analysis_date": "2026-01-11"})),
            StatusCode::BAD_REQUEST,
            "async",
        ),
        (
            "a backfill field as a query parameter",
            json_post(
                "/backfill?dry_run=true",
                json!({"start_date": "2026-01-10", "end_date": "2026-01-11"}),
            ),
            StatusCode::BAD_REQUEST,
            "dry_run",
        ),
        (
            "an array in place of the object",
            json_post("/process-date", json!([["PlayerGameSummaryProcessor"], "2026-01-11", true])),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "a body that is not JSON",
            authorized(Request::post("/backfill"), "application/json", "{start_date: 2026-01-11"),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "a body that is too large",
            json_post(
                "/process-date",
                json!({"analysis_date": "2026-01-11", "processors": vec!["X"; 200]}),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
        ),
        (
            "a wrong content type",
            authorized(
                Request::post("/process-date"),
                "text/plain",
                json!({"analysis_date": "2026-01-11"}).to_string(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
        ),
        (
            "a backfill ending before it starts",
            json_post("/backfill", json!({"start_date": "2026-01-11", "end_date": "2026-01-01"})),
            StatusCode::BAD_REQUEST,
            "end_date",
        ),
        (
            "a backfill with an invalid start date",
            json_post("/backfill", json!({"start_date": "2026-13-01", "end_date": "2026-01-01"})),
            StatusCode::BAD_REQUEST,
            "start_date",
        ),
        (
            "an unknown reprocess mode",
            json_post(
                "/backfill",
                json!({"start_date": "2026-01-01", "end_date": "2026-01-02", "reprocess": "some"}),
            ),
            StatusCode::BAD_REQUEST,
            "reprocess",
        ),
        (
            "a parallelism beyond the pool",
            json_post(
                "/backfill",
                json!({"start_date": "2026-01-01", "end_date": "2026-01-02", "parallelism": 99}),
            ),
            StatusCode::BAD_REQUEST,
            "parallelism",
        ),
        (
            "a backfill of an empty list of processors",
            json_post(
                "/backfill",
                json!({"start_date": "2026-01-01", "end_date": "2026-01-02", "processors": []}),
            ),
            StatusCode::BAD_REQUEST,
            "processors",
        ),
        (
            "a backfill of an unknown processor",
            json_post(
                "/backfill",
                json!({
                    "start_date": "2026-01-01",
                    "end_date": "2026-01-02",
                    "processors": ["Nope"],
                }),
            ),
            StatusCode::BAD_REQUEST,
            "processors",
        ),
        (
            "a runs filter with an invalid date",
            get("/runs?date=yesterday"),
            StatusCode::BAD_REQUEST,
            "date",
        ),
        (
            // A typo, not a processor with no runs: a monitor would read
            // an empty list as "nothing ran".
            "a runs filter naming a processor nobody has",
            get("/runs?processor=PlayerGameSummaryProcesor"),
            StatusCode::BAD_REQUEST,
            "processor",
        ),
        (
            "a runs filter naming no processor",
            get("/runs?processor="),
            StatusCode::BAD_REQUEST,
            "processor",
        ),
        (
            "an unknown runs filter",
            get("/runs?colour=red"),
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (
            "an invalid status filter",
            get("/runs?status=great"),
            StatusCode::BAD_REQUEST,
            "status",
        ),
        (
            "an unknown run",
            get("/runs/no-such-run"),
            StatusCode::NOT_FOUND,
            "id",
        ),
        (
            "an unknown backfill",
            get("/backfills/no-such-backfill"),
            StatusCode::NOT_FOUND,
            "id",
        ),
        (
            "a rollback of an unknown processor",
            authorized(Request::post("/plugins/NopeProcessor/rollback"), "application/json", ""),
            StatusCode::NOT_FOUND,
            "name",
        ),
        (
            "an unknown endpoint",
            get("/process-dates"),
            StatusCode::NOT_FOUND,
            "path",
        ),
        (
            "a component with the wrong content type",
            authorized(
                Request::put("/plugins/VersionedProcessor"),
                "application/json",
                "{}",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
        ),
    ])
    .collect();
    for (case, request, status, field) in cases {
        let (got, body) = served.call(request).await;
        assert_eq!(got, status, "{case}: {body}");
        assert_eq!(body["field"], field, "{case}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{case}: a JSON error with a message: {body}"
        );
    }
    let (_, invalid_date) = served
        .post_json("/process-date", json!({"analysis_date": "2026-02-30"}))
        .await;
    assert_eq!(
        invalid_date["error"],
        "invalid date `2026-02-30` in `analysis_date`: expected a real calendar date as YYYY-MM-DD"
    );
    // One bound, told the same way on either side of it.
    let room = served.state.host.workers.backfill_room();
    for parallelism in [0, room + 1] {
        let (_, refused) = served
            .post_json(
                "/backfill",
                json!({"start_date": "2026-01-01", "end_date": "2026-01-02",
                       "parallelism": parallelism}),
            )
            .await;
        assert_eq!(
            refused["error"],
            format!(
                "parallelism must be from 1 to {room} (the worker pool's size less the one \
                 worker kept for runs asked for one by one), not {parallelism}"
            )
        );
    }
    let (_, empty_name) = served
        .post_json(
            "/process-date",
            json!({"analysis_date": "2026-01-11", "processors": ["PlayerGameSummaryProcessor", ""]}),
        )
        .await;
    assert_eq!(
        empty_name["error"],
        "processors[1] is an empty name, which names no processor"
    );
    // A huge value is not echoed back whole.
    let (status, long_name) = served
        .get(&format!("/runs?processor={}", "A".repeat(20_000)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{long_name:.300}");
    let error = long_name["error"].as_str().unwrap();
    assert!(error.len() < 5_000, "{} bytes", error.len());
    assert_contains(error, "more bytes)");
    assert_eq!(served.run_count(), 0, "nothing was started");
    assert!(served.state.host.backfills.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn mutating_endpoints_need_the_bearer_token_and_reads_only_when_configured() {
    let served = Served::new();
    let mutating = [
        ("POST", "/process-date"),
        ("POST", "/backfill"),
        ("PUT", "/plugins/VersionedProcessor"),
        ("POST", "/plugins/VersionedProcessor/rollback"),
    ];
    for (method, uri) in mutating {
        for authorization in [None, Some("Bearer wrong-token"), Some(TOKEN)] {
            let mut request = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(value) = authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            let (status, body) = served.call(request.body(Body::from("{}")).unwrap()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {authorization:?}: {body}"
            );
            assert_eq!(body["field"], "authorization");
        }
    }
    // The right token and a wrong one: which of two a proxy reads is
    // anyone's guess, so two are refused, whichever comes first.
    let (right, wrong) = (format!("Bearer {TOKEN}"), "Bearer wrong-token".to_string());
    for pair in [[&right, &wrong], [&wrong, &right]] {
        let request = Request::post("/process-date")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, pair[0])
            .header(header::AUTHORIZATION, pair[1])
            .body(Body::from(r#"{"analysis_date": "2026-01-11"}"#))
            .unwrap();
        let (status, body) = served.call(request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{pair:?}: {body}");
        assert_eq!(body["field"], "authorization");
    }
    let (status, body) = served.get("/runs").await;
    assert_eq!(status, StatusCode::OK, "reads are open by default: {body}");
    assert_eq!(served.run_count(), 0);

    let protected = Served::configured(|c| c.protect_reads = true, None);
    for uri in [
        "/runs",
        "/health",
        "/plugins",
        "/metrics",
        "/runs/x",
        "/backfills/x",
    ] {
        let (status, body) = protected.get(uri).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
    }
    // The scheme's name in any letter case, as HTTP has it.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let request = Request::get("/runs")
            .header(header::AUTHORIZATION, format!("{scheme} {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(protected.call(request).await.0, StatusCode::OK, "{scheme}");
    }
}

/// DNS rebinding: a page of another site points its own name at the
/// server and reads it as its own. The router answers such a `Host` 421,
/// on every endpoint and the dashboard page alike, and answers addresses,
/// `localhost` and the names its configuration lists.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_name_the_server_does_not_answer_to_is_refused_everywhere() {
    let served = Served::new();
    let with_host = |uri: &str, host: &str| {
        Request::get(uri)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    };
    for uri in ["/runs", "/health", "/api/grid", "/", "/no-such-path"] {
        let (status, body) = served.call(with_host(uri, "rebound.example:8080")).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{uri}: {body}");
        assert_eq!(body["field"], "host", "{uri}");
        assert_contains(
            body["error"].as_str().unwrap(),
            "does not answer to the host `rebound.example:8080`",
        );
        assert_contains(body["error"].as_str().unwrap(), "--allowed-host");
    }
    for host in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"] {
        let (status, body) = served.call(with_host("/runs", host)).await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
    }
    // An absolute-form target names the host the request is for, whatever
    // the header says.
    let (status, _) = served
        .call(with_host("http://rebound.example/runs", "127.0.0.1"))
        .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    let (status, _) = served
        .call(with_host("http://localhost:8080/runs", "127.0.0.1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let request = Request::get("/runs")
        .header(header::HOST, "127.0.0.1")
        .header(header::HOST, "rebound.example")
        .body(Body::empty())
        .unwrap();
    let (status, body) = served.call(request).await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::BAD_REQUEST, &json!("host"))
    );

    let listed = Served::configured(
        |c| {
            c.allowed_hosts =
                slate::server::AllowedHosts::listed(&["slate.example.com".into()]).unwrap()
        },
        None,
    );
    let (status, body) = listed
        .call(with_host("/runs", "Slate.Example.com:8080"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = listed.call(with_host("/runs", "rebound.example")).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_the_slate_health_report_and_503_when_unhealthy() {
    let served = Served::new();
    let (status, report) = served.get("/health").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["healthy"], true);
    assert!(report["tables"].as_array().unwrap().len() >= 9);

    // A bundled processor on an empty store fails: the pipeline is unhealthy.
    let (_, answer) = served
        .post_json(
            "/process-date",
            json!({"processors": ["PlayerGameSummaryProcessor"], "analysis_date": "2026-01-11"}),
        )
        .await;
    assert_eq!(answer["runs"][0]["status"], "failed", "{answer}");
    let (status, report) = served.get("/health?fresh=1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(report["healthy"], false);
    assert_eq!(
        report["problem_runs"][0]["processor"],
        "PlayerGameSummaryProcessor"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_runs_durations_rows_reaps_and_instantiation() {
    let served = Served::new();
    served.deploy_versioned(components::VERSIONED_V1).await;
    // A run of a host that stopped renewing its lease, whose lease ended
    // as it began: stale, reaped by the next run's completeness check.
    served
        .store
        .start_run(&NewRun {
            processor: "VersionedProcessor".into(),
            phase: slate::phase::Phase::Precompute,
            data_date: crate::support::date("2026-01-01"),
            host_id: "gone-host".into(),
            plugin_hash: "0".into(),
            trigger: Trigger::Cli,
            lease: Duration::ZERO,
        })
        .unwrap();
    for day in ["2026-01-10", "2026-01-11"] {
        let (status, _) = served
            .post_json(
                "/process-date",
                json!({"processors": ["VersionedProcessor"], "analysis_date": day}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, text) = served.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    for line in [
        "slate_runs_total{processor=\"VersionedProcessor\",status=\"success\"} 2",
        "slate_rows_written_total{processor=\"VersionedProcessor\"} 4",
        "slate_run_duration_seconds_count{processor=\"VersionedProcessor\"} 2",
        "slate_plugin_instantiation_seconds_count{processor=\"VersionedProcessor\"} 2",
        "slate_stale_runs_reaped_total 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    assert!(text.contains("# TYPE slate_run_duration_seconds histogram"));
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_are_listed_deployed_checked_and_rolled_back() {
    let served = Served::new();
    let (status, listed) = served.get("/plugins").await;
    assert_eq!(status, StatusCode::OK);
    let daily = listed_plugin(&listed, "PlayerDailyCacheProcessor");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 9);
    assert!(
        listed.iter().all(|p| p["source"] == "bundled"),
        "{listed:?}"
    );
    assert_eq!(daily["dependencies"], json!(["PlayerGameSummaryProcessor"]));
    assert_eq!(
        daily["reads"],
        json!([{
            "upstream": "PlayerGameSummaryProcessor",
            "lookback": {"SeasonToDate": {"month": 10, "day": 1}}
        }])
    );
    assert_eq!(daily["phase"], "4 precompute");

    let (v1, v2) = (
        fixture(components::VERSIONED_V1),
        fixture(components::VERSIONED_V2),
    );
    // v1, then v2, are deployed; v2 again changes nothing, as a PUT of the
    // same thing should: the same deployment, no new history, no notice.
    let mut deployments = Vec::new();
    for version in [&v1, &v2, &v2] {
        let (status, deployed) = served
            .put_component("VersionedProcessor", version.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "{deployed}");
        deployments.push(deployed["id"].clone());
    }
    assert_eq!(deployments[1], deployments[2], "{deployments:?}");
    let (_, history) = served.get("/plugins/VersionedProcessor/history").await;
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    let notices = served
        .store
        .alert_outbox()
        .unwrap()
        .alerts(false, 100)
        .unwrap()
        .into_iter()
        .filter(|alert| alert.raised.event.as_str() == "deployed")
        .count();
    assert_eq!(notices, 2, "one notice per version made active");

    // A bad component is refused with 422, naming the check it failed and,
    // for some, why.
    for (name, bytes, check, reason) in [
        ("OtherName", v1.clone(), "name", None),
        (
            "VersionedProcessor",
            b"not a component".to_vec(),
            "component",
            None,
        ),
        (
            "VersionedProcessor",
            fixture(components::VERSIONED_V3_INVALID),
            "info",
            Some("partition column `no_such_column` is not in the schema"),
        ),
        (
            "VersionedProcessor",
            fixture(components::VERSIONED_UNKNOWN_UPSTREAM),
            "dependencies",
            Some("VersionedProcessor depends on NoSuchProcessor, which is not a known processor"),
        ),
    ] {
        let (status, rejected) = served.put_component(name, bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{rejected}");
        assert_eq!(rejected["check"], check);
        if let Some(reason) = reason {
            assert!(
                rejected["error"].as_str().unwrap().contains(reason),
                "{rejected}"
            );
        }
    }

    let active = |listed: &Json| {
        listed_plugin(listed, "VersionedProcessor")["hash"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(
        active(&served.get("/plugins").await.1),
        Some(content_hash(&v2))
    );

    let rollback = authorized(
        Request::post("/plugins/VersionedProcessor/rollback"),
        "application/json",
        Body::empty(),
    );
    let (status, rolled) = served.call(rollback).await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled["hash"], content_hash(&v1));
    assert_eq!(rolled["action"], "rollback");
    assert_eq!(
        active(&served.get("/plugins").await.1),
        Some(content_hash(&v1))
    );

    let to_v2 = json!({"to": &content_hash(&v2)[..12]});
    let (status, rolled) = served
        .post_json("/plugins/VersionedProcessor/rollback", to_v2)
        .await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled["hash"], content_hash(&v2));

    let (status, missing) = served
        .post_json(
            "/plugins/VersionedProcessor/rollback",
            json!({"to": "ffff"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert_eq!(missing["check"], "version");
    // A refusal echoing a huge value is cut, as every error an answer has.
    let (status, long) = served
        .post_json(
            "/plugins/VersionedProcessor/rollback",
            json!({"to": "f".repeat(20_000)}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error = long["error"].as_str().unwrap();
    assert!(error.len() < 5_000, "{} bytes", error.len());
    assert_contains(error, "more bytes)");

    // What the request says wrong is a 400; what the versions as they
    // stand refuse is a 409. Both were 404s, as if the processor were
    // unknown.
    let (status, no_hash) = served
        .post_json("/plugins/VersionedProcessor/rollback", json!({"to": "v1"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{no_hash}");
    assert_eq!(
        (&no_hash["check"], &no_hash["field"]),
        (&json!("hash"), &json!("to"))
    );
    let (status, already) = served
        .post_json(
            "/plugins/VersionedProcessor/rollback",
            json!({"to": content_hash(&v2)}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{already}");
    assert_eq!(already["check"], "state");
    assert_contains(already["error"].as_str().unwrap(), "already");
}

/// A registry version whose bytes are damaged (or that this host no longer
/// compiles) does not stop the server from serving: at a reload the
/// version it had goes on, the health check says why, and an undeploy
/// still removes the broken one.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_version_that_does_not_load_leaves_the_version_before_serving() {
    use slate::registry::DeployAction;

    let served = Served::new();
    let v1 = fixture(components::VERSIONED_V1);
    let (_, answer) = served
        .deploy_then_process("VersionedProcessor", v1, "2026-01-10")
        .await;
    assert_eq!(answer["runs"][0]["rows"], 2, "{answer}");

    // Another process deployed v2, whose stored bytes were then damaged.
    let registry = &served.state.host.registry;
    let v2 = fixture(components::VERSIONED_V2);
    let spec = Runtime::new(Some(&shared_compiled_cache()))
        .unwrap()
        .load(&v2)
        .unwrap()
        .spec;
    registry.store_blob(&content_hash(&v2), &v2).unwrap();
    let stored = served
        ._dir
        .path()
        .join(format!("registry/blobs/{}.wasm", content_hash(&v2)));
    std::fs::write(stored, b"damaged").unwrap();
    registry
        .activate(&spec, &content_hash(&v2), DeployAction::Deploy)
        .unwrap();

    let (status, health) = served.get("/health?fresh=1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    let refused = &health["refused_versions"];
    assert_contains(refused["reason"].as_str().unwrap(), "are damaged");
    assert_contains(
        refused["reason"].as_str().unwrap(),
        "serving the version loaded before",
    );
    assert!(refused.get("left_out").is_none(), "{refused}");
    let (_, answer) = served
        .post_json(
            "/process-date",
            json!({"processors": ["VersionedProcessor"], "analysis_date": "2026-01-11"}),
        )
        .await;
    assert_eq!(answer["runs"][0]["rows"], 2, "v1 goes on: {answer}");

    let (status, undeployed) = served.undeploy("VersionedProcessor").await;
    assert_eq!(status, StatusCode::OK, "{undeployed}");
    assert_eq!(undeployed["deployment"]["hash"], content_hash(&v2));
    let (status, health) = served.get("/health?fresh=1").await;
    assert_eq!(health["refused_versions"], Json::Null, "{status} {health}");
}

/// A failed run of a processor since undeployed can never be run again to
/// clear it: it no longer makes the pipeline unhealthy.
#[tokio::test(flavor = "multi_thread")]
async fn an_undeployed_processors_failed_run_is_no_health_problem() {
    let served = Served::new();
    let panics = fixture(components::VERSIONED_V4_PANICS);
    let (_, answer) = served
        .deploy_then_process("VersionedProcessor", panics, "2026-01-11")
        .await;
    assert_eq!(answer["runs"][0]["status"], "failed", "{answer}");
    let problems = async || served.get("/health?fresh=1").await.1["problem_runs"].clone();
    assert_eq!(problems().await[0]["processor"], "VersionedProcessor");

    let (status, undeployed) = served.undeploy("VersionedProcessor").await;
    assert_eq!(status, StatusCode::OK, "{undeployed}");
    assert_eq!(problems().await, json!([]));
}

/// The embedded store keeps names of any length: the version PostgreSQL
/// refuses deploys and runs here, its long column NULL.
#[tokio::test(flavor = "multi_thread")]
async fn a_version_with_a_long_column_name_deploys_and_runs_on_the_embedded_store() {
    let served = Served::new();
    let long = fixture(components::VERSIONED_LONG_COLUMN);
    let (status, answer) = served
        .deploy_then_process("VersionedProcessor", long, "2026-01-11")
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["runs"][0]["status"], "success", "{answer}");
}

/// A version whose schema its live table cannot take is refused at deploy,
/// 409 naming the `schema` check and every difference, and the active
/// version stays: activated, it would have failed every run at commit
/// while the processors downstream read the old rows.
#[tokio::test(flavor = "multi_thread")]
async fn a_version_its_live_table_cannot_take_is_refused_at_deploy() {
    let served = Served::new();
    let table = slate::schema::TableName::new("slate_test", "versioned");
    let mut live = Runtime::new(None)
        .unwrap()
        .load(&fixture(components::VERSIONED_V1))
        .unwrap()
        .spec
        .schema
        .clone();
    let label = live.index_of("label").unwrap();
    live.columns[label] = Column::new("label", ColumnType::Int64, ColumnMode::Required);
    served.store.ensure_table(&table, &live).unwrap();
    served
        .store
        .transfer_table(
            &table,
            &slate::ownership::TableOwner::Processor("VersionedProcessor".into()),
            "test set-up",
        )
        .unwrap();

    let (status, refused) = served
        .put_component("VersionedProcessor", fixture(components::VERSIONED_V1))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["check"], "schema");
    assert_contains(
        refused["error"].as_str().unwrap(),
        "column `label` changes type from INT64 to STRING",
    );
    let (status, unknown) = served.get("/plugins/VersionedProcessor/history").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "nothing was deployed: {unknown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undeploy_ends_a_registry_version_and_a_rollback_undoes_it() {
    let served = Served::new();
    let listed = async || served.get("/plugins").await.1;

    // Nothing to undeploy: an unknown name (404), and a bundled processor
    // never deployed, whose version comes with the binary (409).
    let (status, unknown) = served.undeploy("NoSuchProcessor").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    let (status, bundled) = served.undeploy("PlayerDailyCacheProcessor").await;
    assert_eq!(status, StatusCode::CONFLICT, "{bundled}");
    assert_eq!(
        (&bundled["check"], &bundled["field"]),
        (&json!("state"), &json!("name"))
    );
    // An undeploy takes no parameters, and no name or query holds a NUL.
    let (status, keep) = served.undeploy("PlayerDailyCacheProcessor?keep=1").await;
    assert_eq!(
        (status, &keep["field"]),
        (StatusCode::BAD_REQUEST, &json!("keep"))
    );
    let (status, nul) = served.undeploy("Player%00").await;
    assert_eq!(
        (status, &nul["field"]),
        (StatusCode::BAD_REQUEST, &json!("path"))
    );
    let rollback_to = |to: &str| {
        json_post(
            "/plugins/PlayerDailyCacheProcessor/rollback",
            json!({ "to": to }),
        )
    };
    let (status, not_a_hash) = served.call(rollback_to("\u{0}ab")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{not_a_hash}");
    assert_contains(not_a_hash["error"].as_str().unwrap(), "is no hash");
    for uri in [
        "/plugins/PlayerDailyCacheProcessor/rollback?x=1",
        "/backfills/b?x=1",
    ] {
        let request = match uri.starts_with("/plugins") {
            true => json_post(uri, json!({})),
            false => authorized(Request::delete(uri), "application/json", Body::empty()),
        };
        let (status, refused) = served.call(request).await;
        assert_eq!(
            (status, &refused["field"]),
            (StatusCode::BAD_REQUEST, &json!("x")),
            "{uri}"
        );
    }
    // Reads that take no parameter name one given, as those that take
    // some do: before, `/plugins?x=1` answered as if it were not there.
    for uri in [
        "/plugins?x=1",
        "/plugins/PlayerDailyCacheProcessor/history?x=1",
        "/schedules?x=1",
        "/hosts?x=1",
        "/runs/r?x=1",
        "/api/runs/r?x=1",
        "/backfills/b?x=1",
        "/events?x=1",
        "/metrics?x=1",
    ] {
        // (An event stream opened instead would never end.)
        let answered = tokio::time::timeout(Duration::from_secs(30), served.get(uri));
        let (status, refused) = answered.await.expect("an answer, not a stream");
        assert_eq!(
            (status, &refused["field"]),
            (StatusCode::BAD_REQUEST, &json!("x")),
            "{uri}: {refused}"
        );
    }
    let (status, nul) = served.get("/runs?processor=a%00b").await;
    assert_eq!(
        (status, &nul["field"]),
        (StatusCode::BAD_REQUEST, &json!("query"))
    );
    assert_contains(
        bundled["error"].as_str().unwrap(),
        "PlayerDailyCacheProcessor has no registry version to undeploy",
    );

    // A processor another depends on stays until that one goes.
    for (name, component) in [
        ("SlowProcessor", components::SLOW_PROCESSOR),
        ("AfterSlowProcessor", components::AFTER_SLOW_PROCESSOR),
    ] {
        let (status, deployed) = served.put_component(name, fixture(component)).await;
        assert_eq!(status, StatusCode::OK, "{deployed}");
    }
    let (status, refused) = served.undeploy("SlowProcessor").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["check"], "dependencies");
    assert_contains(
        refused["error"].as_str().unwrap(),
        "AfterSlowProcessor depends on SlowProcessor, which would then be gone: undeploy it",
    );
    for name in ["AfterSlowProcessor", "SlowProcessor"] {
        let (status, undeployed) = served.undeploy(name).await;
        assert_eq!(status, StatusCode::OK, "{undeployed}");
        assert_eq!(undeployed["deployment"]["action"], "undeploy");
        assert_eq!(undeployed["deployment"]["active"], false);
        assert_eq!(undeployed["bundled_hash"], Json::Null, "{undeployed}");
    }
    let names: Vec<Json> = listed()
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert!(!names.contains(&json!("SlowProcessor")), "{names:?}");
    let (status, answer) = served
        .post_json(
            "/process-date",
            json!({"processors": ["SlowProcessor"], "analysis_date": "2026-01-11"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (_, history) = served.get("/plugins/SlowProcessor/history").await;
    assert_eq!(history[0]["action"], "undeploy", "{history}");
    assert_eq!(
        history[0]["hash"],
        content_hash(&fixture(components::SLOW_PROCESSOR))
    );

    // A bundled processor's registry version, undeployed: the bundled one
    // runs again. A rollback then undoes the undeploy.
    let v2 = fixture(components::PLAYER_DAILY_CACHE_V2);
    let (status, deployed) = served
        .put_component("PlayerDailyCacheProcessor", v2.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{deployed}");
    let (status, undeployed) = served.undeploy("PlayerDailyCacheProcessor").await;
    assert_eq!(status, StatusCode::OK, "{undeployed}");
    let now = listed().await;
    let daily = listed_plugin(&now, "PlayerDailyCacheProcessor");
    assert_eq!(daily["source"], "bundled", "{daily}");
    assert_eq!(undeployed["bundled_hash"], daily["hash"], "{undeployed}");
    let rollback = authorized(
        Request::post("/plugins/PlayerDailyCacheProcessor/rollback"),
        "application/json",
        Body::empty(),
    );
    let (status, rolled) = served.call(rollback).await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled["hash"], content_hash(&v2));
    let now = listed().await;
    assert_eq!(
        listed_plugin(&now, "PlayerDailyCacheProcessor")["source"],
        "registry"
    );

    // Each undeploy is a notice, as a deploy is.
    let undeploy_notices = served
        .store
        .alert_outbox()
        .unwrap()
        .alerts(false, 100)
        .unwrap()
        .into_iter()
        .filter(|alert| alert.raised.event.as_str() == "undeployed")
        .count();
    assert_eq!(undeploy_notices, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backfill_answers_its_id_and_reports_its_progress() {
    let served = Served::new();
    served.deploy_versioned(components::VERSIONED_V1).await;
    let body = json!({
        "start_date": "2026-01-01", "end_date": "2026-01-05",
        "processors": ["VersionedProcessor"], "dry_run": true
    });
    let (status, dry) = served.post_json("/backfill", body).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["planned"], 5);
    assert_eq!(dry.get("backfill_id"), None, "nothing is kept to look up");
    assert_eq!(served.run_count(), 0, "a dry run runs nothing");

    let body = json!({
        "start_date": "2026-01-01", "end_date": "2026-01-05",
        "processors": ["VersionedProcessor"], "reprocess": "missing", "parallelism": 1
    });
    let (status, accepted) = served.post_json("/backfill", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["backfill_id"].as_str().unwrap().to_string();
    eventually("the backfill finished", async || {
        served.get(&format!("/backfills/{id}")).await.1["state"] == "finished"
    })
    .await;
    let (_, progress) = served.get(&format!("/backfills/{id}")).await;
    assert_eq!(progress["planned"], 5);
    assert_eq!(progress["succeeded"], 5);
    assert_eq!(progress["failed"], 0);
    assert_eq!(served.run_count(), 5);
}

/// Files settled together deploy in dependency order, whatever order
/// their names sort in, and a file refused for a processor it depends on
/// is tried again once the registry moves. Before, the folder went by
/// name: a dependant dropped in with its upstream was refused for good,
/// its `deploy_rejected` open though its upstream went live.
#[test]
fn the_watched_folder_deploys_a_dependant_after_its_upstream() {
    use slate::server::watch::{SETTLE, WatchEvent, Watcher};
    let settled = |watcher: &mut Watcher, host: &ServedHost| {
        watcher.poll(host);
        std::thread::sleep(SETTLE + SETTLE / 3);
        watcher.poll(host)
    };
    let deployed = |events: &[WatchEvent]| -> Vec<String> {
        (events.iter())
            .map(|event| match event {
                WatchEvent::Deployed { processor, .. } => processor.clone(),
                WatchEvent::Rejected { path, error } => panic!("{path:?}: {error}"),
            })
            .collect()
    };
    let open_rejections = |served: &Served| {
        (served
            .store
            .alert_outbox()
            .unwrap()
            .alerts(true, 100)
            .unwrap())
        .into_iter()
        .filter(|a| a.raised.event.as_str() == "deploy_rejected")
        .count()
    };
    let folder_of = |files: &[(&str, &str)]| {
        let folder = tempfile::tempdir().unwrap();
        for (name, component) in files {
            std::fs::write(folder.path().join(name), fixture(component)).unwrap();
        }
        folder
    };
    let dependant = ("after-slow.wasm", components::AFTER_SLOW_PROCESSOR);

    // "after-slow" sorts before "slow".
    let served = Served::new();
    let together = folder_of(&[dependant, ("slow.wasm", components::SLOW_PROCESSOR)]);
    let mut watcher = Watcher::new(together.path().to_path_buf());
    assert_eq!(
        deployed(&settled(&mut watcher, &served.state.host)),
        ["SlowProcessor", "AfterSlowProcessor"]
    );
    assert_eq!(
        open_rejections(&served),
        0,
        "nothing was refused on the way"
    );

    // Alone, the dependant waits, refused; its upstream deployed by other
    // means brings it in.
    let served = Served::new();
    let host = &served.state.host;
    let alone = folder_of(&[dependant]);
    let mut watcher = Watcher::new(alone.path().to_path_buf());
    let refused = settled(&mut watcher, host);
    assert!(
        matches!(&refused[..], [WatchEvent::Rejected { error, .. }]
            if error.contains("rejected by the dependencies check")),
        "{refused:?}"
    );
    assert_eq!(open_rejections(&served), 1);
    assert_eq!(watcher.poll(host), [], "not tried again unchanged");
    host.deploy(&fixture(components::SLOW_PROCESSOR), None)
        .unwrap();
    assert_eq!(deployed(&watcher.poll(host)), ["AfterSlowProcessor"]);
    assert_eq!(open_rejections(&served), 0, "resolved once it deployed");

    // So does its upstream dropped into the folder later. Before, the poll
    // that deployed it marked the registry's move as tried already, and
    // the dependant waited for a deploy by other means.
    let served = Served::new();
    let host = &served.state.host;
    let later = folder_of(&[dependant]);
    let mut watcher = Watcher::new(later.path().to_path_buf());
    assert!(matches!(
        &settled(&mut watcher, host)[..],
        [WatchEvent::Rejected { .. }]
    ));
    std::fs::write(
        later.path().join("z-slow.wasm"),
        fixture(components::SLOW_PROCESSOR),
    )
    .unwrap();
    assert_eq!(deployed(&settled(&mut watcher, host)), ["SlowProcessor"]);
    assert_eq!(deployed(&watcher.poll(host)), ["AfterSlowProcessor"]);
    assert_eq!(open_rejections(&served), 0, "resolved once it deployed");

    // A waiting file written anew is handled as any file, and waits no
    // more: before, it stayed waiting after it deployed, and the next
    // switch by anyone deployed it again over the operator's.
    let served = Served::new();
    let host = &served.state.host;
    let folder = folder_of(&[("v.wasm", components::VERSIONED_UNKNOWN_UPSTREAM)]);
    let mut watcher = Watcher::new(folder.path().to_path_buf());
    assert!(matches!(
        &settled(&mut watcher, host)[..],
        [WatchEvent::Rejected { .. }]
    ));
    std::fs::write(
        folder.path().join("v.wasm"),
        fixture(components::VERSIONED_V1),
    )
    .unwrap();
    assert_eq!(
        deployed(&settled(&mut watcher, host)),
        ["VersionedProcessor"]
    );
    let v2 = fixture(components::VERSIONED_V2);
    host.deploy(&v2, None).unwrap();
    assert_eq!(watcher.poll(host), [], "the operator's deploy stands");
    assert_eq!(
        host.registry.active_hash("VersionedProcessor").unwrap(),
        Some(content_hash(&v2))
    );
}

#[test]
fn the_watched_folder_deploys_a_file_only_once_it_is_completely_written() {
    use slate::server::watch::{SETTLE, WatchEvent, Watcher};
    let served = Served::new();
    let host = &served.state.host;
    let folder = tempfile::tempdir().unwrap();
    let mut watcher = Watcher::new(folder.path().to_path_buf());
    let v1 = fixture(components::VERSIONED_V1);
    let file = folder.path().join("versioned.wasm");

    // A writer that has written half the file so far.
    std::fs::write(&file, &v1[..v1.len() / 2]).unwrap();
    std::fs::write(
        folder.path().join(".partial.wasm"),
        b"a copier's temporary file",
    )
    .unwrap();
    assert_eq!(watcher.poll(host), [], "a new file is only noted");
    {
        use std::io::Write;
        let mut rest = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        rest.write_all(&v1[v1.len() / 2..]).unwrap();
    }
    assert_eq!(watcher.poll(host), [], "it changed: it settles again");
    std::thread::sleep(SETTLE + SETTLE / 3);
    assert_eq!(
        watcher.poll(host),
        [WatchEvent::Deployed {
            path: file.clone(),
            processor: "VersionedProcessor".into(),
            hash: content_hash(&v1),
        }]
    );
    assert_eq!(watcher.poll(host), [], "a file is deployed once");
    let history = host.registry.history("VersionedProcessor").unwrap();
    assert_eq!(history.len(), 1, "the half-written file was never deployed");

    let broken = folder.path().join("broken.wasm");
    std::fs::write(&broken, b"not a component").unwrap();
    watcher.poll(host);
    std::thread::sleep(SETTLE + SETTLE / 3);
    let events = watcher.poll(host);
    assert!(
        matches!(&events[..], [WatchEvent::Rejected { path, error }]
            if *path == broken && error.starts_with("rejected by the component check")),
        "{events:?}"
    );
    assert_eq!(
        watcher.poll(host),
        [],
        "a rejected file is not retried unchanged"
    );
    assert_eq!(
        host.registry.active_hash("VersionedProcessor").unwrap(),
        Some(content_hash(&v1))
    );
    // Not only logged: an alert, open until the file deploys.
    let rejections = || {
        served
            .store
            .alert_outbox()
            .unwrap()
            .alerts(true, 100)
            .unwrap()
            .into_iter()
            .filter(|a| a.raised.event.as_str() == "deploy_rejected")
            .collect::<Vec<_>>()
    };
    let open = rejections();
    let [rejected] = open.as_slice() else {
        panic!("one deploy_rejected alert: {open:#?}");
    };
    assert_eq!(
        (
            rejected.raised.subject.as_str(),
            rejected.raised.kind.as_str()
        ),
        (broken.to_str().unwrap(), "component")
    );
    std::fs::write(&broken, fixture(components::VERSIONED_V2)).unwrap();
    watcher.poll(host);
    std::thread::sleep(SETTLE + SETTLE / 3);
    assert!(matches!(
        &watcher.poll(host)[..],
        [WatchEvent::Deployed { .. }]
    ));
    assert!(rejections().is_empty(), "resolved once the file deployed");
    std::fs::write(&broken, b"not a component").unwrap();
    watcher.poll(host);
    std::thread::sleep(SETTLE + SETTLE / 3);
    watcher.poll(host);
    assert_eq!(rejections().len(), 1);
    // Removed, a rejected file leaves nothing to mend: its alert is
    // resolved. Before, it stayed open for good.
    std::fs::remove_file(&broken).unwrap();
    watcher.poll(host);
    assert!(
        rejections().is_empty(),
        "resolved once the file was removed"
    );

    // A second version written to the folder, then undeployed; the server
    // restarts (a new watcher) with both files still there: the undeploy
    // stands, and each file is skipped, saying so.
    let v2 = fixture(components::VERSIONED_V2);
    std::fs::write(folder.path().join("versioned-v2.wasm"), &v2).unwrap();
    watcher.poll(host);
    std::thread::sleep(SETTLE + SETTLE / 3);
    watcher.poll(host);
    let active = || host.registry.active_hash("VersionedProcessor").unwrap();
    assert_eq!(active(), Some(content_hash(&v2)));
    host.undeploy("VersionedProcessor").unwrap();
    let mut restarted = Watcher::new(folder.path().to_path_buf());
    restarted.poll(host);
    std::thread::sleep(SETTLE + SETTLE / 3);
    let events = restarted.poll(host);
    let skipped = events
        .iter()
        .filter(|event| {
            matches!(event, WatchEvent::Rejected { error, .. }
            if error.contains("VersionedProcessor was undeployed at"))
        })
        .count();
    assert_eq!(skipped, 2, "{events:?}");
    assert_eq!(active(), None);

    // A rollback to v1 stands too: v2's file, active before, is skipped
    // at the next restart. Before, a restart deployed v2 again, undoing
    // the rollback with no more than a log line.
    host.rollback("VersionedProcessor", Some(&content_hash(&v1)))
        .unwrap();
    let mut restarted = Watcher::new(folder.path().to_path_buf());
    restarted.poll(host);
    std::thread::sleep(SETTLE + SETTLE / 3);
    let events = restarted.poll(host);
    assert!(
        events
            .iter()
            .any(|event| matches!(event, WatchEvent::Rejected { error, .. }
            if error.contains("which was active before: a rollback made 1.0.0"))),
        "{events:?}"
    );
    assert_eq!(active(), Some(content_hash(&v1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_claimed_before_a_deployment_finishes_on_the_version_it_started_with() {
    let served = Served::new();
    let host = served.state.host.clone();
    let (v1, v2) = (
        fixture(components::VERSIONED_V1),
        fixture(components::VERSIONED_V2),
    );
    let (h1, h2) = (content_hash(&v1), content_hash(&v2));
    let day = crate::support::date("2026-01-11");
    let (claimed_on_v1, next_run) = tokio::task::spawn_blocking(move || {
        host.deploy(&v1, None).unwrap();
        let before = host.pipeline().unwrap();
        let selection = before.select(&["VersionedProcessor".into()]).unwrap();
        let claims: Vec<_> = before
            .claim_date(&host.executor, day, &selection, Trigger::Http)
            .into_iter()
            .map(|(_, claim)| claim.unwrap())
            .collect();
        host.deploy(&v2, None).unwrap();
        let no_stop = std::sync::atomic::AtomicBool::new(false);
        let in_flight: Vec<_> = (before.run_claims(&host.executor, claims, &no_stop))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let after = host.pipeline().unwrap();
        let next = after
            .run_date(&host.executor, day, &selection, Trigger::Http)
            .unwrap()
            .records;
        (in_flight[0].clone(), next[0].clone())
    })
    .await
    .unwrap();
    assert_eq!(claimed_on_v1.plugin_hash, h1);
    assert_eq!(
        claimed_on_v1.rows_written, 2,
        "v1 ran, though v2 was deployed meanwhile"
    );
    assert_eq!(next_run.plugin_hash, h2);
    assert_eq!(next_run.rows_written, 3, "the next run is v2's");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shutdown_refuses_new_work_and_lets_accepted_runs_finish_within_the_grace_period() {
    use slate::runs::{ErrorKind, RunStatus};
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    // SlowProcessor spins on its date until its 1.5 s of CPU are spent:
    // a run that ends on its own, well within the 30 s grace period.
    let limits = RunLimits {
        cpu_time: Duration::from_millis(1500),
        ..RunLimits::default()
    };
    let served = Served::with(
        |c| c.grace = Duration::from_secs(30),
        Some(plugins.path().to_path_buf()),
        limits,
        1,
    );
    served.deploy_versioned(components::VERSIONED_V1).await;
    crate::bookkeeping::set_spin(
        served.store.as_ref(),
        crate::support::date("2026-01-11"),
        true,
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (signal, shutdown) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(slate::server::serve(
        listener,
        served.state.clone(),
        async {
            let _ = shutdown.await;
        },
        std::future::pending(),
    ));

    let start = |processor: &str| json!({"processors": [processor], "analysis_date": "2026-01-11", "async": true});
    let (_, spinning) = served
        .post_json("/process-date", start("SlowProcessor"))
        .await;
    let spinning = spinning["runs"][0]["run_id"].as_str().unwrap().to_string();
    // The only worker is busy: this one is accepted and queued.
    let (_, queued) = served
        .post_json("/process-date", start("VersionedProcessor"))
        .await;
    let queued = queued["runs"][0]["run_id"].as_str().unwrap().to_string();

    let began = Instant::now();
    signal.send(()).unwrap();
    eventually("the shutdown began", async || {
        served
            .state
            .host
            .draining
            .load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    let (status, refused) = served
        .post_json("/process-date", start("VersionedProcessor"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    // Nor does it change a processor: a deploy and an undeploy are refused
    // alike, and the versions stay as they were. The token still comes
    // first.
    let (_, versions) = served.get("/plugins/VersionedProcessor/history").await;
    let v2 = std::fs::read(components::VERSIONED_V2).unwrap();
    let (status, refused) = served.put_component("VersionedProcessor", v2.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_contains(&refused.to_string(), "no change to its processors");
    let (status, refused) = served.undeploy("VersionedProcessor").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    let anonymous = Request::put("/plugins/VersionedProcessor")
        .header(header::CONTENT_TYPE, "application/wasm")
        .body(Body::from(v2))
        .unwrap();
    assert_eq!(served.call(anonymous).await.0, StatusCode::UNAUTHORIZED);
    let (_, unchanged) = served.get("/plugins/VersionedProcessor/history").await;
    assert_eq!(unchanged, versions);

    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "it did not wait out the grace period"
    );
    let run = |id: &str| served.store.run(id).unwrap().unwrap();
    let spun = run(&spinning);
    assert_eq!(
        (spun.status, spun.error_kind),
        (RunStatus::Failed, Some(ErrorKind::LimitTime)),
        "the in-flight run ended on its own: {spun:?}"
    );
    assert_eq!(
        run(&queued).status,
        RunStatus::Success,
        "the queued run ran"
    );
    assert_eq!(served.run_count(), 2, "the refused request started nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_made_by_the_router_and_extractors_are_json_too() {
    let served = Served::new();
    for (request, status, field, naming) in [
        (
            Request::get("/runs/%ff").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
            "path",
            "",
        ),
        (
            Request::delete("/runs").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
            "/runs does not take DELETE; it takes GET",
        ),
        (
            // A read of a path only writes serve: the method is what is
            // wrong, not the missing token.
            Request::get("/plugins/PlayerGameSummaryProcessor")
                .body(Body::empty())
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
            "does not take GET; it takes PUT,DELETE",
        ),
        (
            Request::get("/runs?limit=%zz").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
            "limit",
            "`%zz`",
        ),
    ] {
        let uri = request.uri().to_string();
        let response = served.router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{uri}");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json",
            "{uri}"
        );
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: Json = serde_json::from_slice(&bytes).expect("a JSON body");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(naming)),
            "{uri}: {body}"
        );
        assert_eq!(body["field"], field, "{uri}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_served_from_a_short_cache_unless_fresh_is_asked_for() {
    let served = Served::configured(|c| c.health_ttl = Duration::from_secs(3600), None);
    let (_, first) = served.get("/health").await;
    let (_, cached) = served.get("/health").await;
    assert_eq!(
        first["checked_at"], cached["checked_at"],
        "one report, cached"
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, fresh) = served.get("/health?fresh=1").await;
    assert_ne!(
        first["checked_at"], fresh["checked_at"],
        "fresh=1 builds anew"
    );
    let (status, bad) = served.get("/health?fresh=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["field"], "fresh");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_requests_for_the_same_date_at_once_both_end_well_and_block_nothing() {
    let served = Served::new();
    load_season(served.store.as_ref(), season()).unwrap();
    let day = "2026-01-14";
    let request = || served.post_json("/process-date", json!({"analysis_date": day}));
    let (first, second) = tokio::join!(request(), request());
    let mut answered = 0;
    for (status, answer) in [first, second] {
        match status {
            StatusCode::OK => {
                answered += 1;
                for run in answer["runs"].as_array().unwrap() {
                    assert!(
                        ["success", "not_started"].contains(&run["status"].as_str().unwrap()),
                        "each run succeeds, or is left to the other request: {answer}"
                    );
                }
            }
            // Every processor was held by the other request: nothing started.
            StatusCode::CONFLICT => assert_eq!(answer["field"], "processors", "{answer}"),
            other => panic!("{other}: {answer}"),
        }
    }
    assert!(answered >= 1, "one request at least ran the date");
    let runs = served
        .store
        .runs(&RunFilter {
            date: Some(date(day)),
            ..RunFilter::default()
        })
        .unwrap();
    let mut latest = std::collections::BTreeMap::new();
    for run in &runs {
        latest.entry(run.processor.as_str()).or_insert(run.status);
    }
    assert_eq!(latest.len(), 9, "{latest:?}");
    assert!(
        latest
            .values()
            .all(|s| *s == slate::runs::RunStatus::Success),
        "the date is healthy: {latest:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_whose_every_processor_is_already_running_is_a_409_naming_the_runs() {
    let served = Served::new();
    load_season(served.store.as_ref(), season()).unwrap();
    let host = &served.state.host;
    let pipeline = host.pipeline().unwrap();
    let summaries = pipeline.plugin("PlayerGameSummaryProcessor").unwrap();
    let held = host
        .executor
        .claim(summaries, date("2026-01-14"), Trigger::Cli)
        .unwrap();
    let runs_before = served.run_count();
    let (status, answer) = served
        .post_json(
            "/process-date",
            json!({"analysis_date": "2026-01-14", "processors": ["PlayerGameSummaryProcessor"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["field"], "processors");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "PlayerGameSummaryProcessor (run {})",
            held.record().run_id
        )),
        "{error}"
    );
    assert_eq!(served.run_count(), runs_before, "nothing started");
}

/// A served host whose runs have 1 s of CPU, with one worker slot.
fn with_a_cpu_second(plugin_dir: Option<PathBuf>) -> Served {
    let limits = RunLimits {
        cpu_time: Duration::from_secs(1),
        ..RunLimits::default()
    };
    Served::with(|_| {}, plugin_dir, limits, 1)
}

/// Starts a backfill of SlowProcessor from 2026-01-01 to `last`, one run at
/// a time, whose first run spins until its CPU is spent; answers its id
/// once that run is in flight.
async fn spinning_backfill(served: &Served, last: &str) -> String {
    crate::bookkeeping::set_spin(served.store.as_ref(), date("2026-01-01"), true);
    let (status, accepted) = served
        .post_json(
            "/backfill",
            json!({"start_date": "2026-01-01", "end_date": last,
                   "processors": ["SlowProcessor"], "reprocess": "all", "parallelism": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    eventually("the first run is in flight", async || {
        served.run_count() == 1
    })
    .await;
    accepted["backfill_id"].as_str().unwrap().to_string()
}

/// A backfill whose processor is undeployed while it runs starts no more
/// of its runs (before, it ran every remaining date with the version it
/// started with); each ends failed, saying why.
#[tokio::test(flavor = "multi_thread")]
async fn a_backfill_starts_no_run_of_a_processor_undeployed_while_it_runs() {
    let served = with_a_cpu_second(None);
    let (status, deployed) = served
        .put_component("SlowProcessor", fixture(components::SLOW_PROCESSOR))
        .await;
    assert_eq!(status, StatusCode::OK, "{deployed}");
    let id = spinning_backfill(&served, "2026-01-05").await;

    let (status, undeployed) = served.undeploy("SlowProcessor").await;
    assert_eq!(status, StatusCode::OK, "{undeployed}");
    let progress = async || served.get(&format!("/backfills/{id}")).await.1;
    eventually("the backfill ended", async || {
        progress().await["state"] != "running"
    })
    .await;
    let ended = progress().await;
    assert_eq!(served.run_count(), 1, "no run started after: {ended}");
    assert_eq!(ended["failed"], 5, "{ended}");
    let undeployed_runs = ended["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["error"] == "SlowProcessor was undeployed during the backfill: not run")
        .count();
    assert_eq!(undeployed_runs, 4, "{ended}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_backfill_starts_no_further_run_and_ends_cancelled() {
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let served = with_a_cpu_second(Some(plugins.path().to_path_buf()));
    let id = spinning_backfill(&served, "2026-01-10").await;

    let cancel = || {
        authorized(
            Request::delete(format!("/backfills/{id}")),
            "application/json",
            "",
        )
    };
    let (status, cancelling) = served.call(cancel()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{cancelling}");
    let progress = async || served.get(&format!("/backfills/{id}")).await.1;
    // Cancelled while its run in flight spins: a second cancel says so,
    // not that the backfill "already ended".
    let (status, twice) = served.call(cancel()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    assert_contains(
        twice["error"].as_str().unwrap(),
        &format!("backfill {id} was already cancelled at "),
    );
    assert_eq!(progress().await["state"], "running");
    eventually("the backfill ended", async || {
        progress().await["state"] != "running"
    })
    .await;
    let ended = progress().await;
    assert_eq!(ended["state"], "cancelled", "{ended}");
    assert_eq!(ended["planned"], 10);
    // Every planned run is counted once: the nine the cancel left out as
    // not run (before, they were in no count).
    assert_eq!(ended["not_run"], 9, "{ended}");
    assert_eq!(
        served.run_count(),
        1,
        "only the run in flight ran, to its end: {ended}"
    );
    assert_eq!(
        ended["failed"], 1,
        "it ran out of CPU as it would have: {ended}"
    );

    let (status, again) = served.call(cancel()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["field"], "id");
    let unknown = authorized(Request::delete("/backfills/nope"), "application/json", "");
    assert_eq!(served.call(unknown).await.0, StatusCode::NOT_FOUND);
    let without_token = Request::delete(format!("/backfills/{id}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(served.call(without_token).await.0, StatusCode::UNAUTHORIZED);
}

/// Event streams hold their connections as long as their clients like, so
/// they may take at most half of the connection limit: past that a new
/// one is a 503, and the rest stays for requests. Before, anonymous
/// streams could take every connection, a token holder's requests too.
#[tokio::test(flavor = "multi_thread")]
async fn event_streams_take_at_most_half_the_connections() {
    let served = Served::configured(|c| c.max_connections = 4, None);
    let open = || async {
        let request = Request::get("/events").body(Body::empty()).unwrap();
        served.router().oneshot(request).await.unwrap()
    };
    let first = open().await;
    let second = open().await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let refused = open().await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = axum::body::to_bytes(refused.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Json = serde_json::from_slice(&bytes).unwrap();
    assert_contains(body["error"].as_str().unwrap(), "2 event streams are open");
    // A stream closed leaves room for another.
    drop(first);
    assert_eq!(open().await.status(), StatusCode::OK);
    drop(second);
}
