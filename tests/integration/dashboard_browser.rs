//! The dashboard in a real browser: headless Chromium driven over WebDriver
//! (fantoccini and chromedriver), against a real `slate serve` on the demo
//! season. Each scenario saves a screenshot under the target folder
//! (`<target>/tmp/dashboard/`); with `SLATE_DOCS_SCREENSHOT=1` the grid
//! scenario also refreshes `docs/dashboard.png`.
//!
//! Chromium is Debian's `chromium` and `chromium-driver`. Under CI (`CI`
//! set) a missing browser fails these tests; elsewhere they say that they
//! skipped and how to install it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value as Json, json};

use crate::serve_process::{Server, TOKEN};
use crate::support::{components, demo_data_dir, listed_plugin};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium session and the chromedriver behind it; both end
/// on drop.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Kills chromedriver's whole process group: killing chromedriver alone
    /// would leave the Chromium it started running, orphaned, for good.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Whether Chromium and chromedriver are installed; under CI their absence
/// fails the test, elsewhere the test reports that it skipped.
fn chromium_installed(test: &str) -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let install = "install it with `apt-get install -y chromium chromium-driver`";
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: {} missing under CI; {install}",
            missing.join(" and ")
        );
    }
    eprintln!(
        "SKIPPED {test}: the browser tests need {}; {install}",
        missing.join(" and ")
    );
    false
}

/// What a browser test works on: a demo folder, a `slate serve` on it, and
/// a browser. Keep the folder as long as the other two.
type Session = (tempfile::TempDir, Server, Browser);

/// A [`Session`] on the demo season run from `from` to `to`, the server
/// started with `flags`; `None` (having said so) when Chromium is missing
/// outside CI.
async fn session(test: &str, (from, to): (&str, &str), flags: &[&str]) -> Option<Session> {
    if !chromium_installed(test) {
        return None;
    }
    let dir = demo_data_dir(from, to);
    let server = Server::start(dir.path(), flags);
    let browser = Browser::start().await;
    Some((dir, server, browser))
}

/// A [`Session`] on the demo's 2026-01-05 whose server also serves the
/// component at `component`, with the plugin folder that holds it (keep
/// it as long as the session).
async fn session_serving(test: &str, component: &str) -> Option<(tempfile::TempDir, Session)> {
    let plugins = crate::support::plugin_dir(&[component]);
    let flags = ["--plugin-dir", plugins.path().to_str().unwrap()];
    let session = session(test, ("2026-01-05", "2026-01-05"), &flags).await?;
    Some((plugins, session))
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium session.
    async fn start() -> Browser {
        let port = free_port();
        // Its own process group, with the Chromium it starts: see `drop`.
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--window-size=1800,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "chromedriver did not start: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Opens the dashboard of `server` at `fragment` (e.g. `#/backfill`).
    async fn open(&self, server: &Server, fragment: &str) {
        self.client
            .goto(&server.url(&format!("/{fragment}")))
            .await
            .unwrap();
        self.until(
            "the grid is drawn",
            "document.querySelectorAll('#grid .cell').length > 0",
        )
        .await;
    }

    /// Opens the grid and waits until its live updates are connected.
    async fn open_live(&self, server: &Server) {
        self.open(server, "").await;
        self.until(
            "live",
            "document.getElementById('live').textContent === 'live'",
        )
        .await;
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&self, expression: &str) -> Json {
        self.client
            .execute(&format!("return ({expression});"), Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// Waits, for at most a minute, until `condition` (JavaScript) holds.
    async fn until(&self, what: &str, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.eval(condition).await != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks what `css` selects; finds it again if the page redrew it
    /// between the finding and the click.
    async fn click(&self, css: &str) {
        let mut attempts = 0;
        loop {
            let element = self
                .client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css}: {e}"));
            match element.click().await {
                Ok(()) => return,
                Err(error) if attempts < 5 => {
                    attempts += 1;
                    eprintln!("clicking {css} again: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot click {css}: {error}"),
            }
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Types `token` into the token form and keeps it for the session.
    async fn use_token(&self, token: &str) {
        self.type_into("#token", token).await;
        self.click("#token-save").await;
        self.until(
            "the token is kept",
            "document.getElementById('token-state').textContent === 'token set'",
        )
        .await;
    }

    /// Shows the grid from `from` to `to` through the range picker, typed
    /// as a user types (an `input` event each), which a grid load ending
    /// before the click leaves be. Should the range not show, it is asked
    /// for again, for at most a minute.
    async fn show_range(&self, from: &str, to: &str) {
        let shown = format!(
            "document.getElementById('to').value === '{to}' && \
             !!document.querySelector('.cell[data-date=\"{to}\"]')"
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.client
                .execute(
                    "for (const [id, value] of [['from', arguments[0]], ['to', arguments[1]]]) {
                         const input = document.getElementById(id);
                         input.value = value;
                         input.dispatchEvent(new Event('input', {bubbles: true}));
                     }",
                    vec![json!(from), json!(to)],
                )
                .await
                .unwrap();
            self.click("#range-show").await;
            let asked = Instant::now();
            while asked.elapsed() < Duration::from_secs(5) {
                if self.eval(&shown).await == json!(true) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting until the grid shows the range"
            );
        }
    }

    /// Marks the page, so that a reload (which would lose the mark) shows.
    async fn mark_page(&self) {
        self.eval("window.slateNotReloaded = true").await;
    }

    async fn assert_not_reloaded(&self) {
        assert_eq!(
            self.eval("window.slateNotReloaded === true").await,
            json!(true),
            "the page reloaded"
        );
    }

    /// Saves a screenshot as `<target>/tmp/dashboard/<name>.png`.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        path
    }

    /// The targets of the links `css` selects.
    async fn hrefs(&self, css: &str) -> Vec<String> {
        let found = self
            .eval(&format!(
                "[...document.querySelectorAll('{css}')].map(a => a.getAttribute('href'))"
            ))
            .await;
        serde_json::from_value(found).expect("a list of links")
    }

    /// The `data-*` attribute `name` of the grid cell of (processor, date).
    async fn cell(&self, processor: &str, date: &str, name: &str) -> Json {
        self.eval(&format!(
            "document.getElementById('cell-{processor}-{date}').dataset.{name}"
        ))
        .await
    }
}

/// Runs recorded for `processor` on `date`, through the API.
fn runs_of(server: &Server, processor: &str, date: &str) -> Vec<Json> {
    let (status, runs) = server.get(&format!("/runs?processor={processor}&date={date}"));
    assert_eq!(status, 200, "{runs}");
    runs.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grid_shows_the_missing_date_failed_or_blocked_in_letters_and_the_error_names_the_seven_games()
 {
    if !chromium_installed("dashboard grid") {
        return;
    }
    // Six weeks run, so that the screenshot shows a season in progress.
    let dir = demo_data_dir("2025-12-01", "2026-01-10");
    let server = Server::start(dir.path(), &[]);
    let browser = Browser::start().await;
    browser.open(&server, "").await;

    let cells = browser
        .eval(
            "[...document.querySelectorAll('.cell[data-date=\"2026-01-06\"]')].map(c => \
             [c.dataset.processor, c.dataset.status, c.textContent, getComputedStyle(c).backgroundColor])",
        )
        .await;
    let cells = cells.as_array().unwrap();
    assert_eq!(cells.len(), 9, "a cell per processor: {cells:?}");
    for cell in cells {
        let (processor, status, letter) = (&cell[0], &cell[1], &cell[2]);
        match status.as_str().unwrap() {
            "failed" => assert_eq!(letter, "F", "{processor}"),
            "blocked" => assert_eq!(letter, "B", "{processor}"),
            other => panic!("{processor} on 2026-01-06 is {other}"),
        }
    }
    let colour_of = |status: &str| {
        cells
            .iter()
            .find(|c| c[1] == status)
            .map(|c| c[3].clone())
            .unwrap()
    };
    assert_ne!(colour_of("failed"), colour_of("blocked"), "and a colour");
    let success = browser
        .eval("document.getElementById('cell-PlayerGameSummaryProcessor-2026-01-05').textContent")
        .await;
    assert_eq!(success, "✓");
    // Christmas Eve is in the default range and has no games: dimmed.
    assert_eq!(
        browser
            .eval("document.querySelector('th[data-date=\"2025-12-24\"]').classList.contains('no-games')")
            .await,
        json!(true)
    );

    browser
        .click("#cell-PlayerGameSummaryProcessor-2026-01-06")
        .await;
    browser
        .until(
            "the run detail shows the error",
            "!!document.getElementById('detail-error') && \
             document.getElementById('detail-error').textContent.includes('no box scores for 7 of 7 scheduled games')",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('detail-status').textContent")
            .await,
        "failed"
    );
    // A blocked run ran no instance: its memory is "–", as `slate runs`
    // shows "-", not "0.0 MiB".
    browser
        .eval(
            "Array.from(document.querySelectorAll('[id^=\"cell-\"][id$=\"-2026-01-06\"]'))\
             .find((cell) => cell.textContent === 'B').click()",
        )
        .await;
    browser
        .until(
            "a blocked run's detail is open",
            "document.getElementById('detail-status') && \
             document.getElementById('detail-status').textContent === 'blocked'",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('detail-memory').textContent")
            .await,
        "–"
    );
    browser
        .click("#cell-PlayerGameSummaryProcessor-2026-01-06")
        .await;
    browser
        .until(
            "the failed run's detail is open again",
            "document.getElementById('detail-status') && \
             document.getElementById('detail-status').textContent === 'failed'",
        )
        .await;
    let shot = browser.screenshot("grid-and-run-detail").await;
    if std::env::var_os("SLATE_DOCS_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/dashboard.png");
        std::fs::create_dir_all(docs.parent().unwrap()).unwrap();
        std::fs::copy(shot, docs).unwrap();
    }

    // The day after, PlayerCompositeFactors looked back over the missing
    // date and went ahead: its cell marks the quality issues, and its
    // detail names the gap and the upstream runs it relied on.
    let factors = "#cell-PlayerCompositeFactorsProcessor-2026-01-07";
    assert_eq!(
        browser
            .eval(&format!(
                "!!document.querySelector('{factors} .mark.issues')"
            ))
            .await,
        json!(true),
        "the cell marks rows with data quality issues"
    );
    browser.click(factors).await;
    browser
        .until(
            "the run detail shows the lookback gap and the upstream runs checked",
            "!!document.getElementById('detail-gaps') && \
             document.getElementById('detail-gaps').textContent.includes('2026-01-06') && \
             document.querySelectorAll('#detail-upstream tr').length > 1",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_banner_is_red_and_links_to_the_missing_date() {
    let Some((_dir, server, browser)) =
        session("dashboard health banner", ("2026-01-05", "2026-01-07"), &[]).await
    else {
        return;
    };
    browser.open(&server, "").await;
    browser
        .until(
            "the banner says unhealthy",
            "document.getElementById('banner').classList.contains('unhealthy')",
        )
        .await;
    let background = browser
        .eval("getComputedStyle(document.getElementById('banner')).backgroundColor")
        .await;
    assert_eq!(background, "rgb(255, 235, 238)", "red");
    // As `slate health`: every processor's run on 2026-01-06 failed or was
    // blocked, and every table lacks rows there, before the demo's range,
    // and after it: the season went on, long past each date's deadline,
    // and nothing ran. The banner names each table's newest missing dates.
    let problem_runs = browser.hrefs("#banner a.problem-run").await;
    assert_eq!(problem_runs.len(), 9, "{problem_runs:?}");
    assert!(
        problem_runs.iter().all(|l| l.ends_with("/2026-01-06")),
        "every failed or blocked run is on 2026-01-06: {problem_runs:?}"
    );
    assert!(problem_runs.contains(&"#/cell/PlayerGameSummaryProcessor/2026-01-06".to_string()));
    let missing = browser.hrefs("#banner a.missing-date").await;
    assert!(
        missing.contains(&"#/cell/PointsPredictionProcessor/2026-04-12".to_string()),
        "{missing:?}"
    );

    browser
        .click("#banner a[href=\"#/cell/PlayerGameSummaryProcessor/2026-01-06\"]")
        .await;
    browser
        .until(
            "the link opens its cell",
            "document.getElementById('cell-PlayerGameSummaryProcessor-2026-01-06').classList.contains('focus') && \
             !!document.getElementById('detail-error')",
        )
        .await;
    browser.screenshot("health-banner").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_token_rerunning_a_cell_makes_a_new_run_and_the_cell_updates_live() {
    let Some((_dir, server, browser)) =
        session("dashboard re-run", ("2026-01-05", "2026-01-07"), &[]).await
    else {
        return;
    };
    browser.open_live(&server).await;
    browser.use_token(TOKEN).await;
    browser.mark_page().await;
    let before = runs_of(&server, "PlayerGameSummaryProcessor", "2026-01-05");
    assert_eq!(before.len(), 1);
    assert_eq!(
        browser
            .cell("PlayerGameSummaryProcessor", "2026-01-05", "attempt")
            .await,
        "1"
    );

    browser
        .click("#cell-PlayerGameSummaryProcessor-2026-01-05")
        .await;
    browser
        .until(
            "the detail is open",
            "!!document.getElementById('detail-rerun')",
        )
        .await;
    browser.click("#detail-rerun").await;
    browser
        .until(
            "the cell shows the new run's success",
            "(c => c.dataset.attempt === '2' && c.dataset.status === 'success')\
             (document.getElementById('cell-PlayerGameSummaryProcessor-2026-01-05'))",
        )
        .await;
    browser.assert_not_reloaded().await;
    let after = runs_of(&server, "PlayerGameSummaryProcessor", "2026-01-05");
    assert_eq!(after.len(), 2, "a new run");
    assert_eq!(after[0]["trigger"], "http");
    assert_eq!(
        browser
            .cell("PlayerGameSummaryProcessor", "2026-01-05", "runId")
            .await,
        after[0]["run_id"]
    );
    browser.screenshot("rerun").await;
}

/// A run that quarantines rows, made while the page is open, gets its `q`
/// mark live. Before, a live change drew the cell without it until the
/// page was reloaded.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_quarantines_rows_is_marked_q_live() {
    let Some((_plugins, (_dir, server, browser))) = session_serving(
        "dashboard quarantine mark",
        components::ONE_BAD_ROW_QUARANTINED,
    )
    .await
    else {
        return;
    };
    browser.open_live(&server).await;
    browser.mark_page().await;
    let ended = server.process("OneBadRowQuarantined", "2026-01-05");
    assert_eq!(ended["status"], "success", "{ended}");
    browser
        .until(
            "the cell shows the run's success with its q mark",
            "(c => c && c.dataset.status === 'success' && !!c.querySelector('sup[title=\"rows quarantined\"]'))\
             (document.getElementById('cell-OneBadRowQuarantined-2026-01-05'))",
        )
        .await;
    browser.assert_not_reloaded().await;
}

/// A processor's value is drawn as text: an override in a quarantined
/// value drew what followed it reversed, a CSI went to the page as is.
/// Each is shown as its escape, `\u{202e}`.
#[tokio::test(flavor = "multi_thread")]
async fn a_quarantined_values_override_and_controls_are_shown_as_escapes() {
    let Some((_plugins, (_dir, server, browser))) = session_serving(
        "dashboard unprintable value",
        components::HOSTILE_TERMINAL_ESCAPE,
    )
    .await
    else {
        return;
    };
    let ended = server.process("TerminalEscape", "2026-01-12");
    assert_eq!(ended["status"], "success", "{ended}");

    browser
        .open(&server, "#/cell/TerminalEscape/2026-01-12")
        .await;

    browser
        .until(
            "the detail shows the quarantined value with its escapes",
            r"document.body.textContent.includes('\\u{9b}2J\\u{202e}desrever')",
        )
        .await;
    assert_eq!(
        browser
            .eval(r"/[\u0080-\u009f\u202e]/.test(document.body.textContent)")
            .await,
        json!(false),
        "no override or C1 control is drawn as is"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backfill_started_from_the_page_fills_its_cells_live() {
    let Some((_dir, server, browser)) =
        session("dashboard backfill", ("2026-01-05", "2026-01-07"), &[]).await
    else {
        return;
    };
    browser.open_live(&server).await;
    browser.show_range("2025-12-20", "2026-01-09").await;
    browser.use_token(TOKEN).await;
    browser.mark_page().await;
    for day in ["2026-01-08", "2026-01-09"] {
        assert_eq!(
            browser
                .cell("PlayerGameSummaryProcessor", day, "status")
                .await,
            "scheduled"
        );
    }

    browser.click("#nav-backfill").await;
    browser
        .client
        .execute(
            "document.getElementById('backfill-start').value = '2026-01-08';
             document.getElementById('backfill-end').value = '2026-01-09';",
            Vec::new(),
        )
        .await
        .unwrap();
    browser.click("#backfill-start-button").await;
    browser
        .until(
            "the backfill finishes",
            "(p => !!p && p.dataset.state === 'finished')(document.getElementById('backfill-state'))",
        )
        .await;
    browser.screenshot("backfill-progress").await;
    browser.click("#nav-grid").await;
    browser
        .until(
            "every cell of both dates succeeded",
            "[...document.querySelectorAll('.cell[data-date=\"2026-01-08\"], .cell[data-date=\"2026-01-09\"]')]\
             .every(c => c.dataset.status === 'success' && c.firstChild.textContent === '✓')",
        )
        .await;
    browser.assert_not_reloaded().await;
    for day in ["2026-01-08", "2026-01-09"] {
        let runs = runs_of(&server, "PointsPredictionProcessor", day);
        assert_eq!(runs.len(), 1, "{day}");
        assert_eq!(runs[0]["trigger"], "backfill");
    }
    browser.screenshot("backfill-grid").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_gets_a_visible_error_and_nothing_starts() {
    let Some((_dir, server, browser)) =
        session("dashboard wrong token", ("2026-01-05", "2026-01-05"), &[]).await
    else {
        return;
    };
    browser.open(&server, "").await;
    let (_, before) = server.get("/runs?limit=1000");
    browser.use_token("not-the-token").await;

    browser
        .click("#grid .rerun-date[data-date=\"2026-01-05\"]")
        .await;
    browser
        .until(
            "the refusal shows",
            "(m => !m.hidden && m.classList.contains('error') && m.textContent.includes('refused the token'))\
             (document.getElementById('message'))",
        )
        .await;
    browser.screenshot("wrong-token").await;

    browser.click("#nav-backfill").await;
    browser
        .client
        .execute(
            "document.getElementById('message').hidden = true;
             document.getElementById('backfill-start').value = '2026-01-06';
             document.getElementById('backfill-end').value = '2026-01-07';",
            Vec::new(),
        )
        .await
        .unwrap();
    browser.click("#backfill-start-button").await;
    browser
        .until(
            "the refusal shows again",
            "(m => !m.hidden && m.textContent.includes('Starting the backfill') && \
             m.textContent.includes('refused the token'))(document.getElementById('message'))",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('backfill-progress').textContent")
            .await,
        "",
        "no progress to show"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, after) = server.get("/runs?limit=1000");
    assert_eq!(before, after, "no run started");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_protected_reads_the_page_asks_for_the_token_before_showing_the_grid() {
    let Some((_dir, server, browser)) = session(
        "dashboard protected reads",
        ("2026-01-05", "2026-01-05"),
        &["--protect-reads"],
    )
    .await
    else {
        return;
    };
    browser.client.goto(&server.url("/")).await.unwrap();
    browser
        .until(
            "the page asks for the token",
            "(m => !m.hidden && m.textContent.includes('enter the API token'))\
             (document.getElementById('message'))",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#grid .cell').length")
            .await,
        0,
        "nothing shown without the token"
    );
    browser.screenshot("protected-reads").await;

    browser.use_token(TOKEN).await;
    browser
        .until(
            "the grid is drawn",
            "!!document.getElementById('cell-PlayerGameSummaryProcessor-2026-01-05')",
        )
        .await;
    assert_eq!(
        browser
            .cell("PlayerGameSummaryProcessor", "2026-01-05", "status")
            .await,
        "success"
    );
    browser
        .until(
            "live",
            "document.getElementById('live').textContent === 'live'",
        )
        .await;
    assert_eq!(
        browser
            .eval(&format!(
                "location.href.includes('{TOKEN}') || document.cookie.includes('{TOKEN}')"
            ))
            .await,
        json!(false),
        "the token is in neither the URL nor a cookie"
    );
    assert_eq!(
        browser.eval("sessionStorage.getItem('slate.token')").await,
        TOKEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plugins_page_shows_versions_and_history_and_rolls_back_with_the_token() {
    if !chromium_installed("dashboard plugins") {
        return;
    }
    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    let server = Server::start(dir.path(), &[]);
    let v1 = std::fs::read(components::VERSIONED_V1).unwrap();
    let v2 = std::fs::read(components::VERSIONED_V2).unwrap();
    for version in [&v1, &v2] {
        let (status, answer) = server.put_component("VersionedProcessor", version);
        assert_eq!(status, 200, "{answer}");
    }
    let browser = Browser::start().await;
    browser.open(&server, "#/plugins").await;
    browser
        .until(
            "the plugins are listed",
            "document.querySelectorAll('#plugins tr[data-processor]').length === 10",
        )
        .await;
    let active = |hash: &str| {
        format!(
            "(r => !!r && r.textContent.includes('{}'))\
             (document.querySelector('#plugins tr[data-processor=\"VersionedProcessor\"]'))",
            &hash[..16]
        )
    };
    let (v1_hash, v2_hash) = (
        slate::plugin::content_hash(&v1),
        slate::plugin::content_hash(&v2),
    );
    browser.until("v2 is active", &active(&v2_hash)).await;

    browser
        .click("#plugins button.history[data-name=\"VersionedProcessor\"]")
        .await;
    browser
        .until(
            "the history lists both deployments",
            "document.querySelectorAll('#history tr').length === 3",
        )
        .await;

    browser.use_token(TOKEN).await;
    browser
        .click("#plugins button.rollback[data-name=\"VersionedProcessor\"]")
        .await;
    browser.until("v1 is active again", &active(&v1_hash)).await;
    browser
        .until(
            "the history shows the rollback",
            "document.querySelectorAll('#history tr').length === 4 && \
             document.querySelector('#history tr:nth-child(2)').textContent.includes('rollback')",
        )
        .await;
    let (_, plugins) = server.get("/plugins");
    let versioned = listed_plugin(&plugins, "VersionedProcessor");
    assert_eq!(
        versioned["hash"],
        v1_hash.as_str(),
        "rolled back through the API"
    );
    browser.screenshot("plugins").await;
}

/// The banner says what only a server's health check has: the registry's
/// versions this host could not load (`refused_versions`). Before, such a
/// host read "Unhealthy: 0 problem(s)", its list empty.
#[tokio::test(flavor = "multi_thread")]
async fn the_health_banner_names_the_versions_the_host_could_not_load() {
    use crate::support::{components, plugin_dir, slate, use_shared_compiled_cache, wait_until};

    if !chromium_installed("dashboard refused versions") {
        return;
    }
    // The synchronous clients (PostgreSQL's, the server's) off the runtime.
    let (_folders, _plugins, server) = tokio::task::spawn_blocking(|| {
        let url = crate::postgres_server::isolated_url();
        let folders: Vec<tempfile::TempDir> = (0..2)
            .map(|_| {
                let folder = tempfile::tempdir().unwrap();
                use_shared_compiled_cache(folder.path());
                folder
            })
            .collect();
        let plugins = plugin_dir(&[components::VERSIONED_V1]);
        let server = Server::start(
            folders[0].path(),
            &[
                "--state",
                &url,
                "--plugin-dir",
                plugins.path().to_str().unwrap(),
            ],
        );
        let deployed = slate(
            folders[1].path(),
            &["--state", &url, "deploy", components::HOSTILE_TABLE_THIEF],
        );
        assert!(deployed.status.success(), "{deployed:?}");
        wait_until("the server cannot load the versions", || {
            !server.get("/health").1["refused_versions"].is_null()
        });
        (folders, plugins, server)
    })
    .await
    .unwrap();

    let browser = Browser::start().await;
    browser.open(&server, "").await;
    browser
        .until(
            "the banner names the versions it could not load",
            "document.getElementById('banner').classList.contains('unhealthy') && \
             !!document.querySelector('#banner .refused-versions') && \
             document.querySelector('#banner .refused-versions').textContent \
               .includes('TableThief names it too')",
        )
        .await;
}
