// Slate dashboard: the processor × date grid, run detail, health banner,
// plugins and backfills, over the same JSON API as curl. The bearer token
// lives in sessionStorage only; it never goes into a URL or a cookie.
"use strict";

const TOKEN_KEY = "slate.token";
const LETTERS = {
  success: "✓", failed: "F", blocked: "B", running: "R", stale: "S",
  scheduled: "○", not_run: "–",
};
const LABELS = {
  success: "success", failed: "failed", blocked: "blocked", running: "running",
  stale: "stale (its host stopped renewing the lease)", scheduled: "scheduled, no run",
  not_run: "not run (no games)",
};

const state = { grid: null, range: null, focus: null, backfillTimer: null };
const $ = (id) => document.getElementById(id);

// A processor's text is escaped before it is shown: what draws as nothing
// or steers how text is drawn (UNPRINTABLE, from /printable.js, made from
// the host's own list) is shown as `\u{202e}`, so that a value cannot draw
// itself reversed or hidden; then HTML's special characters.
function esc(text) {
  return String(text ?? "")
    .replace(UNPRINTABLE, (c) => `\\u{${c.codePointAt(0).toString(16)}}`)
    .replace(/[&<>"']/g, (c) =>
      ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ---- token and API ----------------------------------------------------

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function showTokenState() {
  $("token-state").textContent = token() ? "token set" : "no token: read only";
}

/** An API error with the server's message and field. */
class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.field = body && body.field;
  }
}

/** Calls the JSON API; answers the parsed body, throws ApiError on 4xx/5xx. */
async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = { error: text }; }
  if (!response.ok && !(options.accept || []).includes(response.status)) {
    throw new ApiError(response.status, body);
  }
  return body;
}

function showMessage(text, isError) {
  const box = $("message");
  box.textContent = text;
  box.className = isError ? "message error" : "message";
  box.hidden = false;
}

function clearMessage() { $("message").hidden = true; }

/** Shows why an action or a read failed; asks for the token on a 401. */
function showFailure(what, error) {
  if (error.status === 401) {
    showMessage(`${what}: the server refused the token (${error.message}). ` +
      "Enter the right API token above; nothing was started.", true);
    $("token").focus();
  } else {
    showMessage(`${what}: ${error.message}`, true);
  }
}

/** Runs an action that needs the token; refuses at once without one. */
async function act(what, path, body) {
  if (!token()) {
    showMessage(`${what}: enter the API token first; nothing was started.`, true);
    $("token").focus();
    return null;
  }
  try {
    const answer = await api(path, { method: "POST", body });
    clearMessage();
    return answer;
  } catch (error) {
    showFailure(what, error);
    return null;
  }
}

// ---- grid ---------------------------------------------------------------

function cellId(processor, date) { return `cell-${processor}-${date}`; }

function cellTitle(processor, cell) {
  let title = `${processor} on ${cell.date}: ${LABELS[cell.status]}`;
  if (cell.error_kind) title += ` (${cell.error_kind})`;
  if (cell.attempt) title += `, attempt ${cell.attempt}`;
  if (cell.rows_quarantined) title += `, ${cell.rows_quarantined} rows quarantined`;
  if (cell.rows_with_quality_issues) title += `, ${cell.rows_with_quality_issues} rows with data quality issues`;
  if (cell.outdated) title += ", outdated: written by another version, or before its upstream changed";
  return title;
}

function cellHtml(processor, cell) {
  const mark = (cell.rows_quarantined ? '<sup class="mark" title="rows quarantined">q</sup>' : "") +
    (cell.rows_with_quality_issues
      ? '<sup class="mark issues" title="rows with data quality issues">i</sup>' : "");
  const outdated = cell.outdated ? " outdated" : "";
  return `<button type="button" class="cell ${cell.status}${outdated}" id="${esc(cellId(processor, cell.date))}"` +
    ` data-processor="${esc(processor)}" data-date="${cell.date}" data-status="${cell.status}"` +
    ` data-run-id="${esc(cell.run_id || "")}" data-attempt="${cell.attempt || ""}"` +
    ` data-error-kind="${esc(cell.error_kind || "")}"` +
    ` title="${esc(cellTitle(processor, cell))}" aria-label="${esc(cellTitle(processor, cell))}">` +
    `${LETTERS[cell.status]}${mark}</button>`;
}

/** Whether the range picker holds dates typed and not yet shown. */
let rangeTyped = false;

function renderGrid(grid) {
  state.grid = grid;
  // A grid load that ends while dates are being typed leaves them be.
  if (!rangeTyped) {
    $("from").value = grid.from;
    $("to").value = grid.to;
  }
  const head = grid.dates.map((d) => {
    const dim = d.games ? "" : " no-games";
    const games = d.games ? `${d.games} games` : "no games";
    return `<th class="date${dim}" data-date="${d.date}" title="${d.date}: ${games}">${d.date}` +
      ` <button type="button" class="rerun-date" data-date="${d.date}"` +
      ` title="Re-run every processor on ${d.date}">↻</button></th>`;
  }).join("");
  const rows = grid.phases.map((phase) => {
    const header = `<tr class="phase"><th colspan="${grid.dates.length + 1}">Phase ${esc(phase.name)}</th></tr>`;
    return header + phase.rows.map((row) => {
      const cells = row.cells.map((cell, i) => {
        const dim = grid.dates[i].games ? "" : ' class="no-games"';
        return `<td${dim}>${cellHtml(row.processor, cell)}</td>`;
      }).join("");
      const deps = row.depends_on.length ? `depends on ${row.depends_on.join(", ")}` : "no upstream processors";
      return `<tr data-processor="${esc(row.processor)}"><th class="proc" title="${esc(deps)}">` +
        `${esc(row.processor)}</th>${cells}</tr>`;
    }).join("");
  }).join("");
  $("grid").innerHTML = `<thead><tr><th class="corner">Processor \\ date</th>${head}</tr></thead><tbody>${rows}</tbody>`;
  if (state.focus) focusCell(state.focus.processor, state.focus.date, false);
}

/** Grid requests made so far: an answer to any but the latest is stale. */
let gridRequests = 0;

async function loadGrid() {
  const request = ++gridRequests;
  const query = state.range ? `?from=${state.range.from}&to=${state.range.to}` : "";
  try {
    const grid = await api(`/api/grid${query}`);
    // A resync's answer that arrives after the range was changed would
    // put the old range back: only the latest request's answer is drawn.
    if (request === gridRequests) renderGrid(grid);
    return true;
  } catch (error) {
    showFailure("Reading the grid", error);
    return false;
  }
}

/** Applies one run change pushed by the server to its cell, in place. */
function applyRunChange(change) {
  const button = $(cellId(change.processor, change.date));
  if (!button) return;
  // A change to an older run than the one shown is stale news.
  const shown = button.dataset.runId;
  if (shown && shown > change.run_id) return;
  const cell = {
    date: change.date, status: change.status, error_kind: change.error_kind,
    run_id: change.run_id, attempt: change.attempt, rows_quarantined: 0,
    rows_with_quality_issues: change.rows_with_quality_issues, outdated: false,
  };
  button.outerHTML = cellHtml(change.processor, cell);
  if (state.focus && state.focus.processor === change.processor && state.focus.date === change.date) {
    focusCell(change.processor, change.date, false);
  }
  // What a change does not carry (rows quarantined, the runs downstream it
  // outdates) the grid does: read it again once the run has ended.
  if (change.status !== "running") refreshGridSoon();
}

let gridTimer = null;
/** Reads the grid again within a second; changes meanwhile wait for the
 *  same read, so a backfill's stream of changes reads it once a second. */
function refreshGridSoon() {
  if (gridTimer) return;
  gridTimer = setTimeout(() => {
    gridTimer = null;
    loadGrid();
  }, 1000);
}

function focusCell(processor, date, open) {
  document.querySelectorAll(".cell.focus").forEach((c) => c.classList.remove("focus"));
  const button = $(cellId(processor, date));
  if (!button) return;
  button.classList.add("focus");
  if (open) {
    button.scrollIntoView({ block: "nearest", inline: "center" });
    openDetail(button);
  }
}

// ---- run detail -----------------------------------------------------------

function field(label, value) { return `<dt>${esc(label)}</dt><dd>${value}</dd>`; }

function runFields(run, quarantinedRows) {
  const duration = run.duration_ms == null ? "–" : `${(run.duration_ms / 1000).toFixed(2)} s`;
  return field("Status", `<span class="status-text" id="detail-status">${esc(run.status)}</span>`) +
    field("Kind", esc(run.error_kind || "–")) +
    field("Rows read", esc(run.rows_read)) +
    field("Rows written", esc(run.rows_written)) +
    field("Rows quarantined", esc(quarantinedRows)) +
    field("Rows with quality issues", esc(run.rows_with_quality_issues)) +
    field("Duration", esc(duration)) +
    field("Attempt", esc(run.attempt)) +
    field("Trigger", esc(run.trigger)) +
    field("Host", esc(run.host_id)) +
    field("Started", esc(run.started_at)) +
    field("Finished", esc(run.finished_at || "–")) +
    // No instance ran (a blocked run): "–", as `slate runs` shows "-".
    field("Peak memory", `<span id="detail-memory">${esc(run.peak_memory_bytes > 0
      ? `${(run.peak_memory_bytes / 1048576).toFixed(1)} MiB` : "–")}</span>`) +
    (run.flag ? field("Flag", esc(run.flag)) : "") +
    field("Run id", `<span class="hash">${esc(run.run_id)}</span>`);
}

function detailHtml(detail) {
  const run = detail.run;
  const error = run.error_message
    ? `<h3>Error</h3><pre id="detail-error">${esc(run.error_message)}</pre>` : "";
  const plugin = `${esc(detail.plugin.version || "unknown version")}` +
    ` <span class="hash">${esc(detail.plugin.hash)}</span>` +
    (detail.plugin.active ? " (active)" : " (no longer active)");
  const allowed = (u) => u.safe_to_process == null ? "–" : (u.safe_to_process ? "yes" : "no");
  const upstream = detail.upstream.length
    ? `<table class="list" id="detail-upstream"><tr><th>Upstream</th><th>Run</th><th>Status</th>` +
      `<th>Rows</th><th>Allowed</th><th>Started</th></tr>` +
      detail.upstream.map((u) => `<tr title="${esc(u.reason || "")}"><td>${esc(u.processor)}</td>` +
        `<td class="hash">${esc(u.run_id || "none recorded")}</td><td>${esc(u.status || "–")}</td>` +
        `<td>${esc(u.rows_present == null ? "–" : u.rows_present)}</td><td>${allowed(u)}</td>` +
        `<td>${esc(u.started_at || "–")}</td></tr>`).join("") + "</table>"
    : "<p>No upstream processors: it reads raw tables.</p>";
  const gaps = detail.lookback_gaps.length
    ? `<ul id="detail-gaps">` + detail.lookback_gaps.map((g) =>
        `<li>${esc(g.upstream)} has no rows for scheduled date ${esc(g.date)}</li>`).join("") + "</ul>"
    : "<p>None.</p>";
  const attempts = `<table class="list" id="detail-attempts"><tr><th>Attempt</th><th>Status</th><th>Kind</th>` +
    `<th>Rows</th><th>Trigger</th><th>Started</th></tr>` +
    detail.attempts.map((a) => `<tr><td>${esc(a.attempt)}</td><td>${esc(a.status)}</td>` +
      `<td>${esc(a.error_kind || "–")}</td><td>${esc(a.rows_written)}</td><td>${esc(a.trigger)}</td>` +
      `<td>${esc(a.started_at)}</td></tr>`).join("") + "</table>";
  const quarantined = detail.quarantined.length
    ? detail.quarantined.map((q) => `<h4>Row ${esc(q.row_index)}</h4><ul>` +
        q.errors.map((e) => `<li><b>${esc(e.field)}</b>: ${esc(e.problem)} (expected ${esc(e.expected)},` +
          ` got ${esc(e.value)}) ${esc(e.row_key)}</li>`).join("") +
        `</ul><pre>${esc(JSON.stringify(q.raw_row))}</pre>`).join("") +
      (detail.quarantined_total > detail.quarantined.length
        ? `<p class="note" id="detail-quarantine-more">The first ${esc(detail.quarantined.length)} of ` +
          `${esc(detail.quarantined_total)}: <code>slate quarantine --run ${esc(run.run_id)}</code> ` +
          `lists every one.</p>` : "")
    : "<p>None.</p>";
  return `<h2>${esc(run.processor)} on ${esc(run.data_date)}</h2>` +
    `<p><button type="button" id="detail-rerun">Re-run ${esc(run.processor)} on ${esc(run.data_date)}</button></p>` +
    `<dl>${runFields(run, detail.quarantined_total)}${field("Plugin", plugin)}</dl>${error}` +
    `<h3>Upstream decision</h3>${upstream}<p class="note">${esc(detail.upstream_note)}</p>` +
    `<h3>Lookback gaps</h3>${gaps}` +
    `<h3>Attempts</h3>${attempts}<h3>Quarantined rows</h3>${quarantined}`;
}

async function openDetail(button) {
  const { processor, date, runId } = button.dataset;
  const body = $("detail-body");
  $("detail").hidden = false;
  state.focus = { processor, date };
  if (!runId) {
    body.innerHTML = `<h2>${esc(processor)} on ${esc(date)}</h2><p>${esc(LABELS[button.dataset.status])}:` +
      ` no run recorded.</p><p><button type="button" id="detail-rerun">Run ${esc(processor)} on ${esc(date)}` +
      `</button></p>`;
  } else {
    body.innerHTML = "<p>Loading…</p>";
    try {
      body.innerHTML = detailHtml(await api(`/api/runs/${encodeURIComponent(runId)}`));
    } catch (error) {
      body.innerHTML = `<p>Could not read run ${esc(runId)}: ${esc(error.message)}</p>`;
      return;
    }
  }
  $("detail-rerun").addEventListener("click", () => rerun([processor], date));
}

async function rerun(processors, date) {
  const answer = await act(`Re-running ${processors.length ? processors.join(", ") : "every processor"} on ${date}`,
    "/process-date", { processors: named(processors), analysis_date: date, async: true });
  if (answer) showMessage(`Started ${answer.runs.length} run(s) on ${date}.`, false);
}

// ---- health banner ----------------------------------------------------------

function cellLink(processor, date, text, kind) {
  return `<a href="#/cell/${encodeURIComponent(processor)}/${date}" class="${kind || ""}"` +
    ` data-date="${date}">${esc(text)}</a>`;
}

/** How many of a table's dates without rows the banner names one by one. */
const NAMED_DATES = 5;

async function loadHealth() {
  let report;
  try {
    report = await api("/health?fresh=1", { accept: [503] });
  } catch (error) {
    $("banner").className = "banner unhealthy";
    $("banner").textContent = `Health unknown: ${error.message}`;
    $("banner").dataset.drawn = "";
    return;
  }
  const items = [];
  for (const run of report.problem_runs) {
    const kind = run.error_kind ? ` (${run.error_kind})` : "";
    items.push(cellLink(run.processor, run.date,
      `${run.processor} on ${run.date}: ${run.status}${kind}: ${run.message}`, "problem-run"));
  }
  for (const table of report.tables) {
    const missing = [...table.missing_dates].reverse();
    if (missing.length) {
      const named = missing.slice(0, NAMED_DATES)
        .map((date) => cellLink(table.processor, date, date, "missing-date")).join(", ");
      const rest = missing.length > NAMED_DATES
        ? ` and ${missing.length - NAMED_DATES} earlier (from ${missing[missing.length - 1]})` : "";
      items.push(`${esc(table.table)}: no rows on ${missing.length} scheduled date(s): ${named}${rest}`);
    }
    for (const emptied of table.emptied_dates) {
      items.push(cellLink(table.processor, emptied.date,
        `${table.table}: emptied on ${emptied.date} (had ${emptied.rows_before} rows)`, "emptied-date"));
    }
    for (const lost of table.lost_rows) {
      items.push(cellLink(table.processor, lost.date,
        `${table.table}: rows lost on ${lost.date} (${lost.rows_held} held of ${lost.rows_written} written)`,
        "lost-rows"));
    }
    for (const added of table.added_rows) {
      items.push(cellLink(table.processor, added.date,
        `${table.table}: rows added past the host on ${added.date} (${added.rows_held} held of ${added.rows_written} written)`,
        "added-rows"));
    }
    for (const setAside of table.quarantined_dates) {
      items.push(cellLink(table.processor, setAside.date,
        `${table.table}: every row quarantined on ${setAside.date} (${setAside.rows_quarantined} set aside)`,
        "quarantined-date"));
    }
  }
  for (const channel of [...report.dead_alert_channels, ...report.failing_alert_channels]) {
    const since = channel.since ? ` since ${channel.since}` : "";
    items.push(esc(`alert channel ${channel.channel} cannot deliver${since}: ${channel.reason}`));
  }
  if (report.refused_versions) {
    const refused = report.refused_versions;
    const without = refused.left_out ? `; it serves without ${refused.left_out.join(", ")}` : "";
    items.push(`<span class="refused-versions">${esc(
      `this host could not load the registry's versions (generation ${refused.generation}, ` +
      `since ${refused.since})${without}: ${refused.reason}`)}</span>`);
  }
  const [className, html] = report.healthy
    ? ["banner healthy", "✓ Healthy: every scheduled date has rows, and no run is failed, blocked or stale."]
    : ["banner unhealthy", `✗ Unhealthy: ${items.length} problem(s), as <code>slate health</code> reports them` +
      `<ul>${items.map((i) => `<li>${i}</li>`).join("")}</ul>`];
  // Redrawn only when it changed: a link being clicked stays in place.
  const banner = $("banner");
  if (banner.className !== className || banner.dataset.drawn !== html) {
    banner.className = className;
    banner.innerHTML = html;
    banner.dataset.drawn = html;
  }
}

let healthTimer = null;
function refreshHealthSoon() {
  clearTimeout(healthTimer);
  healthTimer = setTimeout(loadHealth, 500);
}

// ---- live updates -----------------------------------------------------------

/** Reads /events with fetch (so the token can go in a header, not a URL),
 *  and reconnects after a lost connection; every (re)connection starts
 *  with a `resync` event, which re-reads the grid to catch up. */
async function listen() {
  const live = $("live");
  for (;;) {
    try {
      const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
      const response = await fetch("/events", { headers });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      live.textContent = "live";
      live.className = "live on";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          handleEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (_) {
      // Lost or refused: retry below.
    }
    live.textContent = "reconnecting";
    live.className = "live";
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function handleEvent(block) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (kind === "run") {
    applyRunChange(JSON.parse(data.join("\n")));
    refreshHealthSoon();
  } else if (kind === "resync") {
    loadGrid();
    refreshHealthSoon();
  }
}

// ---- plugins ----------------------------------------------------------------

async function loadPlugins() {
  let plugins;
  try {
    plugins = await api("/plugins");
  } catch (error) {
    showFailure("Reading the plugins", error);
    return;
  }
  $("plugins").innerHTML = "<tr><th>Processor</th><th>Version</th><th>Hash</th><th>Phase</th>" +
    "<th>Depends on</th><th>Source</th><th>Deployed</th><th></th></tr>" +
    plugins.map((p) => `<tr data-processor="${esc(p.name)}"><td>${esc(p.name)}</td><td>${esc(p.version)}</td>` +
      `<td class="hash">${esc(p.hash.slice(0, 16))}</td><td>${esc(p.phase)}</td>` +
      `<td>${esc(p.dependencies.join(", ") || "–")}</td><td>${esc(p.source)}</td>` +
      `<td>${esc(p.deployed_at || "–")}</td><td><button type="button" class="history" data-name="${esc(p.name)}">` +
      `History</button> <button type="button" class="rollback" data-name="${esc(p.name)}">Roll back</button></td></tr>`)
      .join("");
}

async function loadHistory(name) {
  try {
    const history = await api(`/plugins/${encodeURIComponent(name)}/history`);
    $("history-title").hidden = false;
    $("history-title").textContent = `Deploy history of ${name}`;
    $("history").innerHTML = "<tr><th>#</th><th>Version</th><th>Hash</th><th>Action</th><th>When</th><th>Active</th></tr>" +
      (history.length ? history.map((d) => `<tr><td>${esc(d.id)}</td><td>${esc(d.version)}</td>` +
        `<td class="hash">${esc(d.hash.slice(0, 16))}</td><td>${esc(d.action)}</td><td>${esc(d.deployed_at)}</td>` +
        `<td>${d.active ? "active" : ""}</td></tr>`).join("")
        : `<tr><td colspan="6">Never deployed: the bundled version runs.</td></tr>`);
  } catch (error) {
    showFailure(`Reading the history of ${name}`, error);
  }
}

async function rollback(name) {
  const answer = await act(`Rolling back ${name}`, `/plugins/${encodeURIComponent(name)}/rollback`, {});
  if (answer) {
    showMessage(`${name} rolled back to ${answer.version} (${answer.hash.slice(0, 16)}).`, false);
    loadPlugins();
    loadHistory(name);
  }
}

// ---- backfills --------------------------------------------------------------

// The processors a request names: left out (every processor) when none
// are, for the server refuses an empty list.
function named(processors) {
  return processors.length ? processors : undefined;
}

async function startBackfill(event) {
  event.preventDefault();
  const processors = $("backfill-processors").value.split(",").map((s) => s.trim()).filter(Boolean);
  const answer = await act("Starting the backfill", "/backfill", {
    start_date: $("backfill-start").value,
    end_date: $("backfill-end").value,
    processors: named(processors),
    reprocess: $("backfill-reprocess").value,
    parallelism: Number($("backfill-parallelism").value) || undefined,
  });
  if (!answer) return;
  showMessage(`Backfill ${answer.backfill_id} started: ${answer.planned} runs planned,` +
    ` ${answer.left_alone} left alone. The grid fills as runs end.`, false);
  watchBackfill(answer.backfill_id);
}

function watchBackfill(id) {
  clearInterval(state.backfillTimer);
  const show = async () => {
    let progress;
    try {
      progress = await api(`/backfills/${encodeURIComponent(id)}`);
    } catch (error) {
      showFailure("Reading the backfill", error);
      clearInterval(state.backfillTimer);
      return;
    }
    // A cluster backfill's progress has no not_started: its queue retries.
    const notStarted = progress.not_started || 0;
    const done = progress.succeeded + progress.failed + progress.blocked + notStarted;
    $("backfill-progress").innerHTML = `<p id="backfill-state" data-state="${esc(progress.state)}">` +
      `Backfill <span class="hash">${esc(id)}</span>: <b>${esc(progress.state)}</b>,` +
      ` ${done} of ${progress.planned} runs ended (${progress.succeeded} succeeded,` +
      ` ${progress.failed} failed, ${progress.blocked} blocked, ${notStarted} left to another run),` +
      ` ${progress.start_date} to ${progress.end_date}.</p>` +
      `<progress max="${progress.planned || 1}" value="${done}"></progress>` +
      (progress.problems.length ? "<ul>" + progress.problems.map((p) =>
        `<li>${cellLink(p.processor, p.date, `${p.processor} on ${p.date}: ${p.status || (p.held_by ? `left to run ${p.held_by}` : "not run")}`)}</li>`)
        .join("") + "</ul>" : "");
    if (["finished", "stopped", "cancelled"].includes(progress.state)) clearInterval(state.backfillTimer);
  };
  show();
  state.backfillTimer = setInterval(show, 1000);
}

// ---- views and wiring -------------------------------------------------------

function showView(name) {
  for (const view of ["grid", "plugins", "backfill"]) {
    $(`view-${view}`).hidden = view !== name;
    $(`nav-${view}`).classList.toggle("current", view === name);
  }
  if (name === "plugins") loadPlugins();
}

/** Routes: #/grid, #/plugins, #/backfill, #/cell/PROCESSOR/DATE. */
async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "cell" && parts.length === 3) {
    const [, processor, date] = parts;
    showView("grid");
    state.focus = { processor, date };
    if (!$(cellId(processor, date))) {
      const day = new Date(`${date}T00:00:00Z`);
      const shift = (days) => new Date(day.getTime() + days * 86400000).toISOString().slice(0, 10);
      state.range = { from: shift(-15), to: shift(14) };
      await loadGrid();
    }
    focusCell(processor, date, true);
  } else {
    showView(["plugins", "backfill"].includes(parts[0]) ? parts[0] : "grid");
  }
}

async function start() {
  showTokenState();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    $("token").value = "";
    showTokenState();
    clearMessage();
    loadGrid();
    loadHealth();
  });
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showTokenState();
  });
  for (const id of ["from", "to"]) $(id).addEventListener("input", () => { rangeTyped = true; });
  $("range").addEventListener("submit", (event) => {
    event.preventDefault();
    state.range = { from: $("from").value, to: $("to").value };
    rangeTyped = false;
    loadGrid();
  });
  $("range-default").addEventListener("click", () => {
    state.range = null;
    rangeTyped = false;
    loadGrid();
  });
  $("grid").addEventListener("click", (event) => {
    const rerunDate = event.target.closest(".rerun-date");
    if (rerunDate) { rerun([], rerunDate.dataset.date); return; }
    const button = event.target.closest(".cell");
    if (button) focusCell(button.dataset.processor, button.dataset.date, true);
  });
  $("detail-close").addEventListener("click", () => { $("detail").hidden = true; state.focus = null; });
  $("plugins").addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    if (target.classList.contains("rollback")) rollback(target.dataset.name);
    if (target.classList.contains("history")) loadHistory(target.dataset.name);
  });
  $("backfill-form").addEventListener("submit", startBackfill);
  window.addEventListener("hashchange", route);
  const loaded = await loadGrid();
  if (!loaded && !token()) {
    showMessage("This server protects reads: enter the API token above to see the pipeline.", true);
  }
  loadHealth();
  route();
  listen();
}

start();
