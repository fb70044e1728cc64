// 区域实时看板: KPI cards, freshness badge, per-minute trend (today vs same weekday last
// week) and district / institution rankings. Summary and freshness are polled every 3 s, the
// trend every 5 s; the freshness age ticks every second in between.

import { api, clearError, poll, reportError } from "./api.js";
import { mountHeader } from "./header.js";
import { applyI18n, onLangChange, t } from "./i18n.js";
import { DASH, figure, fillBody, fillSelect, fmtInt, h } from "./util.js";

const SUMMARY_MS = 3000;
const TREND_MS = 5000;
const TICK_MS = 1000;
// a province has 1,751 institutions: the ranking shows the first rows (plus the selected
// one), not a table rebuilt with every institution on every poll
const RANK_ROWS = 100;

const state = {
  district: "",
  metric: "visits",
  institution: null, // {id, name} when the trend is narrowed to one institution
  summary: null,
  districts: new Set(),
  fresh: null, // {data, receivedAt, unreachable}
  trend: null,
  summaryFailed: false, // the last summary poll failed: empty tables say so
};

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

// ---- KPIs -------------------------------------------------------------------------------

function renderKpis() {
  const totals = state.summary ? state.summary.totals : null;
  for (const el of document.querySelectorAll(".kpi-value")) {
    const f = figure(totals, el.dataset.field, el.dataset.kind);
    el.dataset.value = f.raw;
    el.textContent = f.text;
    el.classList.toggle("suppressed", f.suppressed);
    el.title = f.suppressed ? t("kpi.suppressed") : "";
  }
  const day = state.summary ? state.summary.day : "";
  $("dash-day").textContent = day ? t("dash.day", { day }) : "";
}

// ---- rankings ---------------------------------------------------------------------------

function numCell(figures, field, kind = "int") {
  const f = figure(figures, field, kind);
  const hidden = f.suppressed ? { title: t("kpi.suppressed") } : {};
  return h("td", { class: f.suppressed ? "num suppressed" : "num", "data-field": field, "data-value": f.raw, ...hidden }, f.text);
}

// Width through CSSOM, not a style attribute: works under a strict Content-Security-Policy.
function barSpan(pct) {
  const bar = h("span", { class: "bar" });
  bar.style.width = `${pct.toFixed(1)}%`;
  return bar;
}

/** The visits cell with a proportional bar behind the number. */
function barCell(figures, max) {
  const f = figure(figures, "visits");
  const v = figures && typeof figures.visits === "number" ? figures.visits : 0;
  const pct = max > 0 ? Math.max(0, Math.min(100, (v / max) * 100)) : 0;
  return h(
    "td",
    {
      class: f.suppressed ? "num bar-col suppressed" : "num bar-col",
      "data-field": "visits",
      "data-value": f.raw,
      ...(f.suppressed ? { title: t("kpi.suppressed") } : {}),
    },
    barSpan(pct),
    h("span", { class: "bar-text" }, f.text),
  );
}

function maxVisits(rows) {
  return rows.reduce((m, r) => Math.max(m, (r.figures && r.figures.visits) || 0), 0);
}

function renderRanks() {
  const s = state.summary;
  const districts = (s && s.by_district) || [];
  const dMax = maxVisits(districts);
  fillBody(
    $("rank-district").tBodies[0],
    districts.map((d, i) =>
      h(
        "tr",
        { "data-testid": "rank-row", "data-district": d.district, "data-region-code": d.region_code },
        h("td", { class: "num rank-no" }, String(i + 1)),
        h("td", { class: "name" }, d.district),
        barCell(d.figures, dMax),
        numCell(d.figures, "admissions"),
        numCell(d.figures, "discharges"),
        numCell(d.figures, "inpatients_on_hand"),
      ),
    ),
    s ? t("common.none") : t(state.summaryFailed ? "common.failed" : "common.loading"),
    6,
  );

  const all = (s && s.by_institution) || [];
  const selected = state.institution && state.institution.id;
  const ranked = all.map((r, i) => [r, i]);
  const shown = ranked.filter(([r, i]) => i < RANK_ROWS || r.institution_id === selected);
  const insts = shown.map(([r]) => r);
  const iMax = maxVisits(insts);
  fillBody(
    $("rank-institution").tBodies[0],
    shown.map(([r, i]) =>
      h(
        "tr",
        {
          "data-testid": "rank-row",
          "data-institution": r.institution_id,
          "data-district": r.district,
          class: r.institution_id === selected ? "clickable selected" : "clickable",
          title: r.institution_id,
          onclick: () => selectInstitution(r),
        },
        h("td", { class: "num rank-no" }, String(i + 1)),
        h("td", { class: "name" }, r.name || r.institution_id),
        h("td", {}, r.district || DASH),
        barCell(r.figures, iMax),
        numCell(r.figures, "admissions"),
        numCell(r.figures, "discharges"),
        numCell(r.figures, "inpatients_on_hand"),
        numCell(r.figures, "avg_outpatient_cost", "money"),
      ),
    ),
    s ? t("common.none") : t(state.summaryFailed ? "common.failed" : "common.loading"),
    8,
  );
}

// ---- district filter --------------------------------------------------------------------

function renderDistrictFilter() {
  const select = $("district-filter");
  const names = [...state.districts].sort((a, b) => a.localeCompare(b, "zh-CN"));
  fillSelect(select, [["", t("dash.all_districts")], ...names.map((n) => [n, n])]);
  select.value = state.district;
}

// ---- freshness --------------------------------------------------------------------------

/** Seconds since the newest landed row, on the server's clock (client skew cancels out). */
function freshnessAge() {
  const f = state.fresh;
  if (!f || !f.data) return null;
  const elapsed = Date.now() - f.receivedAt;
  const d = f.data;
  if (typeof d.last_landed_ms === "number" && typeof d.checked_at_ms === "number") {
    return Math.max(0, (d.checked_at_ms + elapsed - d.last_landed_ms) / 1000);
  }
  if (typeof d.age_s === "number") return Math.max(0, d.age_s + elapsed / 1000);
  return null;
}

function renderFreshness() {
  const badge = $("freshness");
  const reasonEl = $("freshness-reason");
  const f = state.fresh;
  if (!f) {
    badge.dataset.state = "";
    badge.textContent = t("common.loading");
    return;
  }
  const d = f.data || {};
  const age = freshnessAge();
  let st = f.unreachable ? "red" : d.state || "red";
  // The server decides the state; between polls only a local age past red can override it.
  if (age !== null && typeof d.red_after_s === "number" && age > d.red_after_s) st = "red";
  badge.dataset.state = st;
  badge.textContent = age === null ? t("fresh.never") : t("fresh.age", { n: Math.floor(age) });
  const reasons = [];
  if (f.unreachable) reasons.push(f.unreachable);
  if (d.reason) reasons.push(d.reason);
  const reason = reasons.join("；");
  reasonEl.textContent = reason;
  reasonEl.hidden = !reason;
  reasonEl.dataset.state = st;
  badge.title = `${t("fresh.state." + st)}${reason ? "：" + reason : ""}`;
}

// ---- trend chart ------------------------------------------------------------------------

let chart = null;

function initChart() {
  const el = $("trend-chart");
  if (!window.echarts) {
    el.classList.add("chart-missing");
    el.textContent = t("error.no_charts");
    return;
  }
  chart = window.echarts.init(el, null, { renderer: "canvas" });
  new ResizeObserver(() => chart.resize()).observe(el);
}

function seriesValues(categories, pairs) {
  const byMinute = new Map((pairs || []).map(([m, v]) => [m, v]));
  return categories.map((m) => (byMinute.has(m) ? byMinute.get(m) : undefined));
}

function renderTrend() {
  const scope = $("trend-scope");
  scope.textContent = state.institution
    ? t("trend.scope_institution", { name: state.institution.name })
    : t("trend.scope_region");
  $("trend-reset").hidden = !state.institution;
  for (const btn of document.querySelectorAll("#metric-switch button")) {
    const on = btn.dataset.metric === state.metric;
    btn.classList.toggle("active", on);
    btn.setAttribute("aria-selected", on ? "true" : "false");
  }
  const el = $("trend-chart");
  el.dataset.metric = state.metric;
  if (!chart || !state.trend) return;
  const tr = state.trend;
  el.dataset.day = tr.day || "";
  el.dataset.points = String((tr.today || []).length);
  const minutes = new Set();
  for (const [m] of tr.last_week || []) minutes.add(m);
  for (const [m] of tr.today || []) minutes.add(m);
  const categories = [...minutes].sort();
  const today = seriesValues(categories, tr.today);
  const lastWeek = seriesValues(categories, tr.last_week);
  // A minute the API did not send (the rest of today) shows "—"; a null it sent is hidden
  // (a count of 1..4, or hidden so that one cannot be worked out): the same mark, said so.
  const show = (v) => (v === undefined ? DASH : v === null ? t("trend.suppressed") : fmtInt(v));
  const todayName = `${t("trend.today")} ${tr.day ? tr.day.slice(5) : ""}`.trim();
  const weekName = `${t("trend.last_week")} ${tr.compare_day ? tr.compare_day.slice(5) : ""}`.trim();
  const axisColor = "#8fa3bf";
  chart.setOption(
    {
      animation: false,
      backgroundColor: "transparent",
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily, fontSize: 16 },
      grid: { left: 56, right: 24, top: 48, bottom: 36 },
      legend: {
        top: 4,
        right: 8,
        textStyle: { color: "#dbe6f5", fontSize: 16 },
        data: [todayName, weekName],
      },
      tooltip: {
        trigger: "axis",
        textStyle: { fontSize: 15 },
        formatter: (params) => {
          const i = params[0].dataIndex;
          const m = categories[i];
          return `${m}<br>${todayName}：${show(today[i])}<br>${weekName}：${show(lastWeek[i])}`;
        },
      },
      xAxis: {
        type: "category",
        data: categories,
        boundaryGap: false,
        axisLine: { lineStyle: { color: axisColor } },
        axisLabel: {
          color: axisColor,
          fontSize: 14,
          interval: (idx, value) => value.endsWith(":00") && Number(value.slice(0, 2)) % 2 === 0,
        },
        axisTick: { show: false },
      },
      yAxis: {
        type: "value",
        minInterval: 1,
        axisLabel: { color: axisColor, fontSize: 14 },
        splitLine: { lineStyle: { color: "rgba(143,163,191,0.18)" } },
      },
      series: [
        {
          name: weekName,
          type: "line",
          data: lastWeek.map((v) => (v === undefined ? null : v)),
          showSymbol: false,
          lineStyle: { width: 2, type: "dashed", color: "#7d8ba1" },
          itemStyle: { color: "#7d8ba1" },
          z: 1,
        },
        {
          name: todayName,
          type: "line",
          data: today.map((v) => (v === undefined ? null : v)),
          showSymbol: false,
          lineStyle: { width: 3, color: "#43d0f5" },
          itemStyle: { color: "#43d0f5" },
          areaStyle: { color: "rgba(67,208,245,0.15)" },
          z: 2,
        },
      ],
    },
    { notMerge: true },
  );
}

function selectInstitution(row) {
  const same = state.institution && state.institution.id === row.institution_id;
  state.institution = same ? null : { id: row.institution_id, name: row.name || row.institution_id };
  renderRanks();
  renderTrend();
  refreshTrend();
}

// ---- polling ----------------------------------------------------------------------------

async function loadSummary() {
  const district = state.district;
  const qs = district ? "?district=" + encodeURIComponent(district) : "";
  const [summary, fresh] = await Promise.allSettled([
    api("/api/dashboard/summary" + qs),
    api("/api/dashboard/freshness"),
  ]);
  if (fresh.status === "fulfilled") {
    state.fresh = { data: fresh.value, receivedAt: Date.now(), unreachable: null };
  } else {
    // Keep ticking from the last answer but say the server cannot be reached.
    const prev = state.fresh || { data: null, receivedAt: Date.now() };
    state.fresh = { ...prev, unreachable: fresh.reason.detail || t("fresh.unreachable") };
  }
  renderFreshness();
  state.summaryFailed = summary.status === "rejected";
  if (state.summaryFailed) {
    renderRanks();
    throw summary.reason;
  }
  if (state.district !== district) return; // the filter changed meanwhile; its poll is queued
  state.summary = summary.value;
  for (const d of state.summary.by_district || []) state.districts.add(d.district);
  if (state.district) state.districts.add(state.district);
  renderKpis();
  renderRanks();
  renderDistrictFilter();
  if (fresh.status === "rejected") throw fresh.reason;
  clearError();
}

async function loadTrend() {
  const params = new URLSearchParams({ metric: state.metric });
  if (state.institution) params.set("institution", state.institution.id);
  const query = params.toString();
  const trend = await api("/api/dashboard/trend?" + query);
  // A metric or institution picked while this was in flight has its own request queued.
  const now = new URLSearchParams({ metric: state.metric });
  if (state.institution) now.set("institution", state.institution.id);
  if (now.toString() !== query) return;
  state.trend = trend;
  renderTrend();
}

let refreshSummary = () => {};
let refreshTrend = () => {};

function init() {
  applyI18n(document);
  mountHeader("dashboard");
  initChart();
  renderKpis();
  renderRanks();
  renderFreshness();
  renderTrend();
  renderDistrictFilter();

  $("district-filter").addEventListener("change", (ev) => {
    state.district = ev.target.value;
    refreshSummary();
  });
  for (const btn of document.querySelectorAll("#metric-switch button")) {
    btn.addEventListener("click", () => {
      state.metric = btn.dataset.metric;
      renderTrend();
      refreshTrend();
    });
  }
  $("trend-reset").addEventListener("click", () => {
    state.institution = null;
    renderRanks();
    renderTrend();
    refreshTrend();
  });
  onLangChange(() => {
    renderKpis();
    renderRanks();
    renderDistrictFilter();
    renderFreshness();
    renderTrend();
    if (!window.echarts) $("trend-chart").textContent = t("error.no_charts");
  });

  refreshSummary = poll(loadSummary, SUMMARY_MS);
  refreshTrend = poll(loadTrend, TREND_MS);
  setInterval(renderFreshness, TICK_MS);
}

try {
  init();
} catch (err) {
  reportError(err);
}
