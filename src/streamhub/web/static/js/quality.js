// 数据质控: the quality report of a period (filters as `streamhub quality report`), its trend
// against the previous periods, per-rule tables and abnormal records, the exports (xlsx and the
// printable HTML report) and the work orders. An institution contact sees their own
// institution only (the server scopes every call; the page just does not offer the filter)
// and acknowledges orders / reports fixes.

import { api, clearError, reportError } from "./api.js";
import { mountHeader } from "./header.js";
import { applyI18n, onLangChange, t } from "./i18n.js";
import { fillBody, fillSelect, fmtInt, fmtTime, h } from "./util.js";

const DIMENSIONS = ["completeness", "validity", "consistency", "timeliness", "overall"];
const ORDER_STATES = ["open", "acknowledged", "fix_reported", "escalated", "closed"];
const TRENDS = [1, 2, 3, 6, 12];
const $ = (id) => document.getElementById(id);

const state = { me: null, report: null, dimensionNames: {}, orders: [], chart: null };

function filters() {
  const params = new URLSearchParams();
  const period = $("q-period").value.trim();
  if (period) params.set("period", period);
  if (!isContact()) {
    const inst = $("q-institution").value.trim();
    if (inst) params.set("institution", inst);
  }
  if ($("q-rule").value) params.set("rule", $("q-rule").value);
  params.set("trend", $("q-trend").value || "3");
  return params;
}

function isContact() {
  return !!(state.me && state.me.role === "institution_contact");
}

function exportLinks(params) {
  $("q-xlsx").href = "/api/quality/report.xlsx?" + params.toString();
  $("q-html").href = "/api/quality/report.html?" + params.toString();
}

async function loadReport() {
  const params = filters();
  exportLinks(params);
  const report = await api("/api/quality/report?" + params.toString());
  state.report = report;
  if (!$("q-period").value) $("q-period").value = report.period;
  clearError();
  renderReport();
}

function scoreLabel(d) {
  return d === "overall" ? t("q.overall_score") : state.dimensionNames[d] || d;
}

function renderReport() {
  const r = state.report;
  if (!r) return;
  $("q-title").textContent = r.title;
  $("q-weights").textContent = r.weights;
  $("q-scores").replaceChildren(
    ...DIMENSIONS.map((d) =>
      h(
        "div",
        { class: "kpi", "data-testid": "score-" + d, "data-value": String(r.overall[d]) },
        h("div", { class: "kpi-label" }, scoreLabel(d)),
        h("div", { class: "kpi-value" }, r.overall[d].toFixed(2)),
      ),
    ),
    h(
      "div",
      { class: "kpi", "data-testid": "score-records", "data-value": String(r.records) },
      h("div", { class: "kpi-label" }, t("q.records")),
      h("div", { class: "kpi-value" }, fmtInt(r.records)),
    ),
  );
  renderTrend();
  $("q-sections").replaceChildren(...r.sections.map(sectionCard));
}

function sectionCard(section, index) {
  const body = h("tbody");
  const rows = section.rows.map((row) => h("tr", {}, ...row.map((c) => h("td", {}, String(c)))));
  fillBody(body, rows, t("common.none"), section.headers.length);
  return h(
    "section",
    { class: "card", "data-testid": "quality-section", "data-title": section.title, "data-index": String(index) },
    h("div", { class: "card-head" }, h("h2", {}, section.title), h("span", { class: "muted small" }, t("common.rows_total", { total: section.rows.length }))),
    h(
      "div",
      { class: "table-wrap" },
      h("table", { class: "data" }, h("thead", {}, h("tr", {}, ...section.headers.map((x) => h("th", {}, x)))), body),
    ),
  );
}

function renderTrend() {
  const el = $("q-trend-chart");
  const r = state.report;
  if (!window.echarts) {
    el.classList.add("chart-missing");
    el.textContent = t("error.no_charts");
    return;
  }
  if (!state.chart) {
    state.chart = window.echarts.init(el, null, { renderer: "canvas" });
    new ResizeObserver(() => state.chart.resize()).observe(el);
  }
  const periods = r.trend.map((p) => p.period);
  state.chart.setOption(
    {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 24, top: 36, bottom: 32 },
      xAxis: { type: "category", data: periods },
      yAxis: { type: "value", min: 0, max: 100 },
      series: DIMENSIONS.map((d) => ({
        name: scoreLabel(d),
        type: "line",
        data: r.trend.map((p) => p.scores[d]),
        lineStyle: d === "overall" ? { width: 3 } : { width: 1.5 },
      })),
    },
    true,
  );
  el.dataset.periods = periods.join(",");
}

// ---- work orders -----------------------------------------------------------------------

const ORDER_COLUMNS = ["机构", "规则", "系统", "表", "级别", "状态", "问题记录数", "问题率", "开立", "期限", "示例(假名)", "证据"];

async function loadOrders() {
  const params = new URLSearchParams();
  if ($("o-state").value) params.set("state", $("o-state").value);
  if (!isContact() && $("q-institution").value.trim()) params.set("institution", $("q-institution").value.trim());
  try {
    const answer = await api("/api/quality/orders?" + params.toString());
    state.orders = answer.orders;
  } catch (err) {
    state.orders = [];
    reportError(err);
  }
  renderOrders();
}

function actionCell(order) {
  if (!isContact() || order.state === "closed") return h("td", {});
  const note = h("input", { type: "text", maxlength: "500", size: "14", "data-testid": "order-note", placeholder: t("q.note") });
  const act = (path) => async () => {
    try {
      await api(`/api/quality/orders/${encodeURIComponent(order.order_id)}/${path}`, { method: "POST", body: { note: note.value } });
      await loadOrders();
    } catch (err) {
      reportError(err);
    }
  };
  const canAck = order.state === "open" || order.state === "escalated";
  const canFix = order.state !== "fix_reported";
  return h(
    "td",
    {},
    note,
    canAck ? h("button", { type: "button", class: "btn btn-small", "data-testid": "order-ack", onclick: act("acknowledge") }, t("q.ack")) : null,
    canFix ? h("button", { type: "button", class: "btn btn-small", "data-testid": "order-fix", onclick: act("fix") }, t("q.fix")) : null,
  );
}

function renderOrders() {
  $("o-head").replaceChildren(...[...ORDER_COLUMNS, ""].map((c) => h("th", {}, c)));
  const rows = state.orders.map((o) =>
    h(
      "tr",
      { "data-testid": "order-row", "data-order": o.order_id, "data-state": o.state },
      h("td", {}, o.name && o.name !== "未知" ? `${o.name} (${o.institution_id})` : o.institution_id),
      h("td", {}, o.rule),
      h("td", {}, o.system),
      h("td", {}, o.table),
      h("td", {}, o.level),
      h("td", { "data-testid": "order-state" }, t("state." + o.state)),
      h("td", { class: "num" }, fmtInt(o.breach_count)),
      h("td", { class: "num" }, (o.breach_rate * 100).toFixed(1) + "%"),
      h("td", {}, fmtTime(o.opened_at_ms, { withYear: true })),
      h("td", {}, fmtTime(o.deadline_ms, { withYear: true })),
      h("td", {}, o.examples.join(", ")),
      h("td", {}, o.evidence),
      actionCell(o),
    ),
  );
  fillBody(document.querySelector('[data-testid="orders-table"] tbody'), rows, t("common.none"), ORDER_COLUMNS.length + 1);
}

// ---- start -----------------------------------------------------------------------------

async function refresh() {
  try {
    await loadReport();
  } catch (err) {
    reportError(err);
  }
  await loadOrders();
}

async function main() {
  state.me = await mountHeader("quality");
  if (!state.me) return;
  if (isContact()) {
    $("q-institution-field").hidden = true;
    $("q-own").hidden = false;
    $("q-own").textContent = t("q.own_institution", { id: state.me.institution_id });
  }
  fillSelect($("q-trend"), TRENDS.map((n) => [String(n), String(n)]));
  $("q-trend").value = "3";
  fillSelect($("o-state"), [["", t("common.all")], ...ORDER_STATES.map((s) => [s, t("state." + s)])]);
  try {
    const rules = await api("/api/quality/rules");
    state.dimensionNames = rules.dimensions;
    fillSelect($("q-rule"), [["", t("common.all")], ...rules.rules.map((r) => [r, r])]);
  } catch (err) {
    reportError(err);
  }
  // a link may carry the filters: /quality?period=2026-11&rule=required
  const given = new URLSearchParams(window.location.search);
  if (given.get("period")) $("q-period").value = given.get("period");
  if (given.get("institution") && !isContact()) $("q-institution").value = given.get("institution");
  if (given.get("rule")) $("q-rule").value = given.get("rule");
  if (given.get("trend")) $("q-trend").value = given.get("trend");
  $("quality-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    refresh();
  });
  $("o-state").addEventListener("change", loadOrders);
  onLangChange(() => {
    applyI18n(document);
    renderReport();
    renderOrders();
  });
  await refresh();
  document.body.dataset.ready = "true";
}

main();
