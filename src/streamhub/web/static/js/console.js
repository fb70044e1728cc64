// 运维控制台: link-health matrix, anomalies (with acknowledgement), reconciliation windows with
// a drill-down, dead letters and quality findings. Everything refreshes every 8 s.
// At a province's count (1,751 institutions) every list is filtered (district and institution
// for all, a status chip each), ordered worst first and paged by the server: the page holds
// one page of each list, never the whole province.

import { api, ApiError, clearError, poll, reportError, showError } from "./api.js";
import { mountHeader } from "./header.js";
import { applyI18n, onLangChange, t } from "./i18n.js";
import { renderChips, renderPager } from "./paging.js";
import { forgetMissing, missingSection } from "./recon_missing.js";
import { DASH, fillBody, fillSelect, fmtInt, fmtTime, h } from "./util.js";

const REFRESH_MS = 8000;
const MAX_ROWS = 300;
const PAGE_SIZE = 50;
const DAYS_PAGE_SIZE = 20;
const SEARCH_DEBOUNCE_MS = 300;
const DEFAULT_HOPS = ["source", "capture", "channel", "processing", "center"];
const RECON_STATUSES = ["MISSING", "EXCESS", "PENDING", "LATE", "MATCH"]; // problems first
const HEALTH_STATUSES = ["down", "degraded", "unknown", "ok"];
const ANOMALY_STATES = ["open", "suppressed", "recovered"];
const LIST_SORTS = ["worst", "newest", "institution"];
const HEALTH_SORTS = ["worst", "institution", "name"];
const HOURS = [1, 6, 24, 168];

const state = {
  health: null,
  anomalies: null,
  recon: null,
  days: null,
  quality: null,
  // the filters every list shares, and each list's own status, order and page
  filter: { district: "", q: "" },
  healthView: { status: "", sort: "worst", page: 1 },
  anomalyView: { state: "", sort: "worst", page: 1 },
  reconView: { status: "", sort: "worst", page: 1 },
  daysView: { page: 1 },
  healthPick: null, // {institution, hop}
  reconPick: null, // key of the drilled-down window
  reconDetail: null,
  institutions: new Map(), // id -> name
  acked: new Set(), // acknowledged here; the console shows it before the detector confirms
  loadFailed: false, // the last refresh failed: empty tables say so instead of "loading"
};

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

function instName(id, name) {
  return name || state.institutions.get(id) || id || DASH;
}

function emptyText(data) {
  if (data) return t("common.none");
  return state.loadFailed ? t("common.failed") : t("common.loading");
}

function statusChip(status, label) {
  return h("span", { class: `chip status-${String(status || "unknown").toLowerCase()}` }, label ?? status ?? DASH);
}

// ---- health matrix ----------------------------------------------------------------------

const STATUS_ICON = { ok: "●", degraded: "▲", down: "✖", unknown: "?" };

function healthCell(inst, hop, cell) {
  const status = (cell && cell.status) || "unknown";
  const reason = (cell && cell.reason) || "";
  const picked = state.healthPick && state.healthPick.institution === inst.institution_id && state.healthPick.hop === hop;
  return h(
    "td",
    {
      class: `health-cell status-${status}${hop === "overall" ? " overall" : ""}${picked ? " picked" : ""}`,
      "data-testid": "health-cell",
      "data-institution": inst.institution_id,
      "data-hop": hop,
      "data-status": status,
      title: reason,
      tabindex: "0",
      onclick: () => pickHealth(inst.institution_id, hop),
      onkeydown: (ev) => {
        if (ev.key === "Enter" || ev.key === " ") pickHealth(inst.institution_id, hop);
      },
    },
    h("span", { class: "icon", "aria-hidden": "true" }, STATUS_ICON[status] || "?"),
    " ",
    t("status." + status),
  );
}

function renderHealth() {
  const data = state.health;
  const hops = (data && data.hops) || DEFAULT_HOPS;
  document.getElementById("health-head").replaceChildren(
    h("th", {}, t("col.institution")),
    h("th", {}, t("col.district")),
    ...hops.map((hop) => h("th", { "data-hop": hop }, t("hop." + hop))),
    h("th", { "data-hop": "overall" }, t("hop.overall")),
  );
  const insts = (data && data.institutions) || [];
  const errEl = $("health-error");
  errEl.textContent = (data && data.error) || "";
  errEl.hidden = !(data && data.error);
  const counts = (data && data.counts) || {};
  renderChips(
    $("health-chips"),
    "health",
    HEALTH_STATUSES.map((s) => ({ value: s, label: t("status." + s), count: counts[s] || 0, status: s })),
    state.healthView.status,
    (value) => {
      state.healthView = { ...state.healthView, status: value, page: 1 };
      loadHealth().catch(reportError);
    },
  );
  renderPager($("health-pager"), "health", data, (page) => {
    state.healthView.page = page;
    loadHealth().catch(reportError);
  });
  fillBody(
    $("health-matrix").tBodies[0],
    insts.map((inst) =>
      h(
        "tr",
        { "data-testid": "health-row", "data-institution": inst.institution_id, "data-status": inst.overall && inst.overall.status },
        h(
          "th",
          { scope: "row", class: "name", title: inst.institution_id },
          inst.name || inst.institution_id,
          inst.name ? h("div", { class: "inst-id mono" }, inst.institution_id) : null,
        ),
        h("td", { class: "district" }, inst.district || DASH),
        ...hops.map((hop) => healthCell(inst, hop, inst.hops && inst.hops[hop])),
        healthCell(inst, "overall", inst.overall),
      ),
    ),
    emptyText(data),
    hops.length + 3,
  );
  renderHealthDetail();
}

function pickHealth(institution, hop) {
  const same = state.healthPick && state.healthPick.institution === institution && state.healthPick.hop === hop;
  state.healthPick = same ? null : { institution, hop };
  renderHealth();
}

function renderHealthDetail() {
  const panel = $("health-detail");
  const pick = state.healthPick;
  const inst = pick && state.health && (state.health.institutions || []).find((i) => i.institution_id === pick.institution);
  if (!inst) {
    panel.hidden = true;
    return;
  }
  const cell = pick.hop === "overall" ? inst.overall : inst.hops && inst.hops[pick.hop];
  const status = (cell && cell.status) || "unknown";
  panel.replaceChildren(
    h(
      "div",
      { class: "detail-head" },
      h("strong", {}, `${inst.name || inst.institution_id} · ${t("hop." + pick.hop)}`),
      statusChip(status, t("status." + status)),
      h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => pickHealth(pick.institution, pick.hop) }, t("common.close")),
    ),
    h("p", { class: "reason", "data-testid": "health-reason" }, (cell && cell.reason) || DASH),
  );
  panel.hidden = false;
}

// ---- anomalies --------------------------------------------------------------------------

async function ackAnomaly(row, button) {
  const note = window.prompt(t("anomaly.ack_prompt", { id: row.anomaly_id }), "");
  if (note === null) return; // cancelled
  button.disabled = true;
  try {
    const res = await api(`/api/console/anomalies/${encodeURIComponent(row.anomaly_id)}/ack`, {
      method: "POST",
      body: { note },
    });
    state.acked.add(row.anomaly_id);
    toast(t("anomaly.ack_done", { id: (res && res.anomaly_id) || row.anomaly_id }));
    renderAnomalies();
    await loadAnomalies();
  } catch (err) {
    reportError(err);
    button.disabled = false;
  }
}

function renderAnomalies() {
  const data = state.anomalies;
  const rows = (data && data.anomalies) || []; // one page, in the server's order
  const counts = (data && data.counts) || {};
  const open = document.getElementById("anomaly-open").checked;
  const stateClass = { open: "down", suppressed: "degraded", recovered: "ok" };
  renderChips(
    $("anomaly-chips"),
    "anomaly",
    ANOMALY_STATES.filter((s) => !(open && s === "recovered")).map((s) => ({
      value: s,
      label: t("anomaly.state." + s),
      count: counts[s] || 0,
      status: stateClass[s],
    })),
    state.anomalyView.state,
    (value) => {
      state.anomalyView = { ...state.anomalyView, state: value, page: 1 };
      loadAnomalies().catch(reportError);
    },
  );
  renderPager($("anomaly-pager"), "anomaly", data, (page) => {
    state.anomalyView = { ...state.anomalyView, page };
    loadAnomalies().catch(reportError);
  });
  fillBody(
    $("anomaly-table").tBodies[0],
    rows.map((a) => {
      const open = !a.recovered;
      let status = statusChip(a.recovered ? "ok" : "down", t(a.recovered ? "anomaly.recovered" : "anomaly.open"));
      const acked = open && !a.suppressed && state.acked.has(a.anomaly_id);
      if (open && a.suppressed) status = statusChip("degraded", t("anomaly.suppressed"));
      else if (acked) status = statusChip("degraded", t("anomaly.ack_sent"));
      const action = h("td", { class: "action" });
      if (open && !a.suppressed && !acked) {
        const btn = h("button", {
          type: "button",
          class: "btn btn-small btn-primary",
          "data-testid": "anomaly-ack",
          "data-anomaly-id": a.anomaly_id,
        }, t("anomaly.ack"));
        btn.addEventListener("click", () => ackAnomaly(a, btn));
        action.append(btn);
      }
      return h(
        "tr",
        {
          "data-testid": "anomaly-row",
          "data-anomaly-id": a.anomaly_id,
          "data-institution": a.institution_id,
          "data-recovered": String(!!a.recovered),
          "data-suppressed": String(!!a.suppressed),
          "data-acknowledged": String(!!a.suppressed || acked),
          class: open && !a.suppressed && !acked ? "row-alert" : "",
        },
        h("td", { title: a.institution_id }, instName(a.institution_id, a.name)),
        h("td", {}, a.system || DASH),
        h("td", {}, a.table || DASH),
        h("td", {}, a.kind || DASH),
        h("td", {}, statusChip(severityClass(a.severity), a.severity || DASH)),
        h("td", { class: "time" }, fmtTime(a.start_ms)),
        h("td", { class: "time" }, a.end_ms ? fmtTime(a.end_ms) : DASH),
        h("td", {}, status),
        h("td", { class: "detail-text" }, a.detail || ""),
        action,
      );
    }),
    emptyText(state.anomalies),
    10,
  );
}

function severityClass(sev) {
  const s = String(sev || "").toLowerCase();
  if (["critical", "error", "high", "page", "p1"].includes(s)) return "down";
  if (["warning", "warn", "medium", "ticket", "p2"].includes(s)) return "degraded";
  return "unknown";
}

// ---- reconciliation ---------------------------------------------------------------------

function reconKey(w) {
  return [w.institution_id, w.system, w.table, w.window_start_ms].join("|");
}

function whoParams() {
  const p = new URLSearchParams();
  if (state.filter.district) p.set("district", state.filter.district);
  if (state.filter.q) p.set("q", state.filter.q);
  return p;
}

function reconParams() {
  const p = whoParams();
  const view = state.reconView;
  if (view.status) p.set("status", view.status);
  p.set("hours", $("recon-hours").value || "24");
  p.set("sort", view.sort);
  p.set("page", String(view.page));
  p.set("page_size", String(PAGE_SIZE));
  return p;
}

function daysParams() {
  const p = whoParams();
  p.set("hours", $("recon-hours").value || "24");
  p.set("page", String(state.daysView.page));
  p.set("page_size", String(DAYS_PAGE_SIZE));
  return p;
}

function windowCells(w) {
  return [
    h("td", { title: w.institution_id }, instName(w.institution_id, w.name)),
    h("td", {}, w.system || DASH),
    h("td", {}, w.table || DASH),
    h("td", { class: "time" }, fmtTime(w.window_start_ms)),
    h("td", { class: "num" }, fmtInt(w.source_changes)),
    h("td", { class: "num" }, fmtInt(w.standardized)),
    h("td", { class: "num" }, fmtInt(w.dead_lettered)),
    h("td", { class: "num" }, fmtInt(w.landed)),
    h("td", { class: w.difference ? "num diff" : "num" }, fmtInt(w.difference)),
    h("td", {}, statusChip(reconStatusClass(w.status), w.status)),
    h("td", { class: "detail-text" }, w.detail || ""),
  ];
}

function reconStatusClass(status) {
  return { MATCH: "ok", LATE: "ok", PENDING: "unknown", MISSING: "down", EXCESS: "degraded" }[status] || "unknown";
}

function renderRecon() {
  const data = state.recon;
  const shown = (data && data.windows) || []; // one page, in the server's order
  const counts = (data && data.counts) || {};
  renderChips(
    $("recon-chips"),
    "recon",
    RECON_STATUSES.map((s) => ({ value: s, label: s, count: counts[s] || 0, status: reconStatusClass(s) })),
    state.reconView.status,
    (value) => {
      state.reconView = { ...state.reconView, status: value, page: 1 };
      loadRecon().catch(reportError);
    },
  );
  renderPager($("recon-pager"), "recon", data, (page) => {
    state.reconView.page = page;
    loadRecon().catch(reportError);
  });
  fillBody(
    $("recon-table").tBodies[0],
    shown.map((w) =>
      h(
        "tr",
        {
          "data-testid": "recon-row",
          "data-institution": w.institution_id,
          "data-system": w.system,
          "data-table": w.table,
          "data-window-start-ms": w.window_start_ms,
          "data-status": w.status,
          class: "clickable" + (reconKey(w) === state.reconPick ? " selected" : ""),
          onclick: () => drillRecon(w),
        },
        ...windowCells(w),
      ),
    ),
    emptyText(state.recon),
    11,
  );
  renderDays();
}

function renderDays() {
  renderPager($("days-pager"), "days", state.days, (page) => {
    state.daysView.page = page;
    loadDays().catch(reportError);
  });
  const daily = (state.days && state.days.daily) || [];
  fillBody(
    $("recon-daily").tBodies[0],
    daily.map((d) =>
      h(
        "tr",
        { "data-institution": d.institution_id, "data-day": d.day },
        h("td", { title: d.institution_id }, instName(d.institution_id, d.name)),
        h("td", {}, d.day || DASH),
        h("td", { class: "num" }, fmtInt(d.windows)),
        h("td", { class: "num" }, fmtInt(d.matched_windows)),
        h("td", { class: d.missing_windows ? "num diff" : "num" }, fmtInt(d.missing_windows)),
        h("td", { class: d.excess_windows ? "num diff" : "num" }, fmtInt(d.excess_windows)),
        h("td", { class: "num" }, fmtInt(d.source_changes)),
        h("td", { class: "num" }, fmtInt(d.landed)),
        h("td", { class: "num" }, fmtInt(d.rejected)),
        h("td", { class: "num" }, fmtInt(d.repaired)),
        h("td", { class: d.difference ? "num diff" : "num" }, fmtInt(d.difference)),
      ),
    ),
    emptyText(state.days),
    11,
  );
}

async function drillRecon(w) {
  const key = reconKey(w);
  forgetMissing(); // one window's keys at a time, none once the panel closes
  if (state.reconPick === key) {
    state.reconPick = null;
    state.reconDetail = null;
    renderRecon();
    renderReconDetail();
    return;
  }
  state.reconPick = key;
  state.reconDetail = { loading: true, row: w };
  renderRecon();
  renderReconDetail();
  const p = new URLSearchParams({
    institution: w.institution_id,
    system: w.system,
    table: w.table,
    window_start_ms: String(w.window_start_ms),
  });
  try {
    const res = await api("/api/console/reconciliation/window?" + p.toString());
    if (state.reconPick === key) state.reconDetail = { row: w, data: res };
  } catch (err) {
    if (state.reconPick !== key) return;
    if (err instanceof ApiError && err.status === 404) state.reconDetail = { row: w, missing: err.detail };
    else {
      state.reconDetail = { row: w, error: err instanceof ApiError ? err.detail : String(err) };
      reportError(err);
    }
  }
  renderReconDetail();
}

function renderReconDetail() {
  const panel = $("recon-detail");
  const d = state.reconDetail;
  if (!d) {
    panel.hidden = true;
    panel.replaceChildren();
    return;
  }
  const w = (d.data && d.data.window) || d.row;
  const head = h(
    "div",
    { class: "detail-head" },
    h("strong", {}, `${t("console.detail")} · ${instName(w.institution_id, w.name)} · ${w.system}.${w.table} · ${fmtTime(w.window_start_ms)}`),
    statusChip(reconStatusClass(w.status), w.status),
    h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => drillRecon(d.row) }, t("common.close")),
  );
  const body = [];
  if (d.loading) body.push(h("p", { class: "muted" }, t("common.loading")));
  else if (d.missing) body.push(h("p", { class: "reason" }, `${t("console.window_missing")}：${d.missing}`));
  else if (d.error) body.push(h("p", { class: "reason" }, d.error));
  else {
    const fields = [
      ["col.window", fmtTime(w.window_start_ms, { withSeconds: true, withYear: true })],
      ["col.window_end", fmtTime(w.window_end_ms, { withSeconds: true, withYear: true })],
      ["col.source_changes", fmtInt(w.source_changes)],
      ["col.standardized", fmtInt(w.standardized)],
      ["col.dead_lettered", fmtInt(w.dead_lettered)],
      ["col.landed", fmtInt(w.landed)],
      ["col.difference", fmtInt(w.difference)],
      ["col.duplicates", fmtInt(w.duplicates)],
      ["col.repaired", fmtInt(w.repaired)],
      ["col.revision", w.revision ?? DASH],
      ["col.checked", fmtTime(w.checked_ts_ms, { withSeconds: true })],
      ["col.detail", w.detail || DASH],
    ];
    body.push(h("dl", { class: "kv kv-wide", "data-testid": "recon-window" }, ...fields.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, String(v))])));
    const missing = missingSection(w, reconKey(w), renderReconDetail);
    if (missing) body.push(missing);
    const neighbours = (d.data && d.data.neighbours) || [];
    body.push(h("h4", {}, t("console.neighbours")));
    const tbody = h("tbody");
    fillBody(
      tbody,
      neighbours.map((n) =>
        h("tr", { class: reconKey(n) === reconKey(w) ? "selected" : "", "data-testid": "recon-neighbour" }, ...windowCells(n)),
      ),
      t("common.none"),
      11,
    );
    const headRow = h("tr", {}, ...[
      "col.institution", "col.system", "col.table", "col.window", "col.source_changes", "col.standardized",
      "col.dead_lettered", "col.landed", "col.difference", "col.status", "col.detail",
    ].map((k) => h("th", {}, t(k))));
    body.push(h("div", { class: "table-wrap" }, h("table", { class: "data compact" }, h("thead", {}, headRow), tbody)));
  }
  panel.replaceChildren(head, ...body);
  panel.hidden = false;
}

// ---- dead letters and quality -----------------------------------------------------------

function renderQuality() {
  const q = state.quality || {};
  const dead = [...(q.dead_letters || [])].sort((a, b) => (b.count || 0) - (a.count || 0));
  const qual = [...(q.quality || [])].sort((a, b) => (b.count || 0) - (a.count || 0));
  const rows = [
    ...dead.map((d) =>
      h(
        "tr",
        { "data-testid": "quality-row", "data-kind": "dead_letter", "data-institution": d.institution_id },
        h("td", {}, statusChip("down", t("quality.dead_letter"))),
        h("td", { title: d.institution_id }, instName(d.institution_id, d.name)),
        h("td", {}, d.stage || DASH),
        h("td", {}, d.error_type || DASH),
        h("td", {}, DASH),
        h("td", { class: "num" }, fmtInt(d.count)),
      ),
    ),
    ...qual.map((r) =>
      h(
        "tr",
        { "data-testid": "quality-row", "data-kind": "quality", "data-institution": r.institution_id },
        h("td", {}, statusChip("degraded", t("quality.rule"))),
        h("td", { title: r.institution_id }, instName(r.institution_id, r.name)),
        h("td", {}, r.rule || DASH),
        h("td", {}, r.dimension || DASH),
        h("td", {}, statusChip(severityClass(r.severity), r.severity || DASH)),
        h("td", { class: "num" }, fmtInt(r.count)),
      ),
    ),
  ];
  fillBody($("quality-table").tBodies[0], rows.slice(0, MAX_ROWS), emptyText(state.quality), 6);
}

// ---- filters and loading ----------------------------------------------------------------

function sortOptions(sorts) {
  return sorts.map((s) => [s, t("sort." + s)]);
}

function renderFilters() {
  const districts = (state.health && state.health.districts) || [];
  fillSelect($("filter-district"), [
    ["", t("console.all_districts")],
    ...districts.map((d) => [d.code, t("console.district_n", { name: d.name, n: fmtInt(d.institutions) })]),
  ]);
  $("filter-district").value = state.filter.district;
  fillSelect($("health-sort"), sortOptions(HEALTH_SORTS));
  $("health-sort").value = state.healthView.sort;
  fillSelect($("anomaly-sort"), sortOptions(LIST_SORTS));
  $("anomaly-sort").value = state.anomalyView.sort;
  fillSelect($("recon-sort"), sortOptions(LIST_SORTS));
  $("recon-sort").value = state.reconView.sort;
  const hours = $("recon-hours");
  const keep = hours.value || "24";
  fillSelect(hours, HOURS.map((n) => [String(n), t("console.hours_n", { n })]));
  hours.value = keep;
}

function remember(rows) {
  for (const r of rows || []) if (r.institution_id && r.name) state.institutions.set(r.institution_id, r.name);
}

let toastTimer = null;
function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

// Each load asks for the current view and drops its answer when the view changed meanwhile
// (a later click's load is on its way).
function anomalyParams() {
  const p = whoParams();
  const view = state.anomalyView;
  if (document.getElementById("anomaly-open").checked) p.set("open", "true");
  if (view.state) p.set("state", view.state);
  p.set("hours", $("recon-hours").value || "24");
  p.set("sort", view.sort);
  p.set("page", String(view.page));
  p.set("page_size", String(PAGE_SIZE));
  return p;
}

async function loadAnomalies() {
  const query = anomalyParams().toString();
  const res = await api("/api/console/anomalies?" + query);
  if (anomalyParams().toString() !== query) return;
  state.anomalies = res;
  remember(res.anomalies);
  renderAnomalies();
}

async function loadRecon() {
  const query = reconParams().toString();
  const recon = await api("/api/console/reconciliation/list?" + query);
  if (reconParams().toString() !== query) return;
  state.recon = recon;
  remember(recon.windows);
  renderRecon();
}

async function loadDays() {
  const query = daysParams().toString();
  const days = await api("/api/console/reconciliation/days?" + query);
  if (daysParams().toString() !== query) return;
  state.days = days;
  remember(days.daily);
  renderDays();
}

async function loadQuality() {
  const hours = $("recon-hours").value || "24";
  state.quality = await api("/api/console/quality?hours=" + encodeURIComponent(hours));
  renderQuality();
}

function healthParams() {
  const p = whoParams();
  const view = state.healthView;
  if (view.status) p.set("status", view.status);
  p.set("sort", view.sort);
  p.set("page", String(view.page));
  p.set("page_size", String(PAGE_SIZE));
  return p;
}

async function loadHealth() {
  const query = healthParams().toString();
  const health = await api("/api/console/health?" + query);
  if (healthParams().toString() !== query) return;
  state.health = health;
  remember(health.institutions);
  renderHealth();
  renderFilters();
}

async function loadAll() {
  const results = await Promise.allSettled([loadHealth(), loadAnomalies(), loadRecon(), loadDays(), loadQuality()]);
  renderFilters();
  const failed = results.find((r) => r.status === "rejected");
  if (!!failed !== state.loadFailed) {
    state.loadFailed = !!failed;
    renderAll();
  }
  if (failed) throw failed.reason;
  clearError();
}

/** The shared filters changed: every list goes back to its first page. */
function filtersChanged() {
  state.healthView.page = 1;
  state.anomalyView = { ...state.anomalyView, page: 1 };
  state.reconView = { ...state.reconView, page: 1 };
  state.daysView = { page: 1 };
  Promise.allSettled([loadHealth(), loadAnomalies(), loadRecon(), loadDays()]).then((results) => {
    const failed = results.find((r) => r.status === "rejected");
    if (failed) reportError(failed.reason);
  });
}

function renderAll() {
  renderHealth();
  renderAnomalies();
  renderRecon(); // and the daily totals
  renderReconDetail();
  renderQuality();
  renderFilters();
  document.getElementById("refresh-note").textContent = t("common.refresh_every", { n: REFRESH_MS / 1000 });
}

function listen(id, event, fn) {
  document.getElementById(id).addEventListener(event, fn);
}

function init() {
  applyI18n(document);
  mountHeader("console");
  renderAll();
  const refresh = poll(loadAll, REFRESH_MS);
  listen("filter-district", "change", (ev) => {
    state.filter = { ...state.filter, district: ev.target.value };
    filtersChanged();
  });
  let searchTimer = null;
  listen("filter-search", "input", (ev) => {
    clearTimeout(searchTimer);
    const q = ev.target.value.trim();
    searchTimer = setTimeout(() => {
      if (q === state.filter.q) return;
      state.filter = { ...state.filter, q };
      filtersChanged();
    }, SEARCH_DEBOUNCE_MS);
  });
  listen("filter-clear", "click", () => {
    $("filter-search").value = "";
    state.filter = { district: "", q: "" };
    state.healthView.status = "";
    state.anomalyView = { ...state.anomalyView, state: "" };
    state.reconView = { ...state.reconView, status: "" };
    filtersChanged();
  });
  listen("health-sort", "change", (ev) => {
    state.healthView = { ...state.healthView, sort: ev.target.value, page: 1 };
    loadHealth().catch(reportError);
  });
  listen("anomaly-sort", "change", (ev) => {
    state.anomalyView = { ...state.anomalyView, sort: ev.target.value, page: 1 };
    loadAnomalies().catch(reportError);
  });
  listen("recon-sort", "change", (ev) => {
    state.reconView = { ...state.reconView, sort: ev.target.value, page: 1 };
    loadRecon().catch(reportError);
  });
  listen("recon-hours", "change", () => {
    state.reconView = { ...state.reconView, page: 1 };
    state.daysView = { page: 1 };
    state.anomalyView = { ...state.anomalyView, page: 1 };
    for (const load of [loadRecon, loadDays, loadAnomalies, loadQuality]) load().catch(reportError);
  });
  listen("anomaly-open", "change", () => {
    const view = state.anomalyView;
    state.anomalyView = { ...view, page: 1, state: view.state === "recovered" ? "" : view.state };
    loadAnomalies().catch(reportError);
  });
  onLangChange(renderAll);
  return refresh;
}

try {
  init();
} catch (err) {
  showError(String(err));
}
