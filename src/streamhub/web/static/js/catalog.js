// 数据目录: every Kafka topic a developer may subscribe to, filterable; a click shows the topic's
// fields and the settings a consumer needs (partitions, retention, key, value schema).

import { api, ApiError, clearError, reportError } from "./api.js";
import { mountHeader } from "./header.js";
import { applyI18n, onLangChange, t } from "./i18n.js";
import { DASH, fillBody, fillSelect, fmtInt, h } from "./util.js";

const state = { topics: null, selected: null, detail: null };

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

/** Avro type -> readable text: "string", "null | long", "long (timestamp-millis)", record names. */
export function avroType(type) {
  if (type === null || type === undefined) return DASH;
  if (typeof type === "string") return type;
  if (Array.isArray(type)) return type.map(avroType).join(" | ");
  if (typeof type === "object") {
    if (type.logicalType) return `${avroType(type.type)} (${type.logicalType})`;
    if (type.type === "array") return `array<${avroType(type.items)}>`;
    if (type.type === "map") return `map<${avroType(type.values)}>`;
    if (type.type === "enum") return `enum ${type.name || ""} {${(type.symbols || []).join(", ")}}`;
    if (type.name) return `${type.type} ${type.name}`;
    return avroType(type.type);
  }
  return String(type);
}

function fmtRetention(ms) {
  if (ms === null || ms === undefined) return DASH;
  if (Number(ms) < 0) return t("catalog.retention_forever");
  const min = Number(ms) / 60000;
  let human;
  if (min >= 1440 && min % 1440 === 0) human = t("dur.days", { n: min / 1440 });
  else if (min >= 60 && min % 60 === 0) human = t("dur.hours", { n: min / 60 });
  else human = t("dur.minutes", { n: Math.round(min * 10) / 10 });
  return `${human} (${fmtInt(Number(ms))} ms)`;
}

function matches(topic, needle, group) {
  if (group && topic.group !== group) return false;
  if (!needle) return true;
  const hay = [topic.name, topic.description, topic.owner, topic.group, topic.security_level, topic.security_category]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
  return hay.includes(needle);
}

function renderList() {
  const topics = (state.topics && state.topics.topics) || [];
  const groups = [...new Set(topics.map((tp) => tp.group).filter(Boolean))].sort();
  fillSelect($("topic-group"), [["", t("common.all")], ...groups.map((g) => [g, g])]);
  const needle = $("topic-filter").value.trim().toLowerCase();
  const group = $("topic-group").value;
  const shown = topics.filter((tp) => matches(tp, needle, group));
  document.getElementById("topic-count").textContent = t("common.rows_total", { total: shown.length });
  fillBody(
    $("topic-list").tBodies[0],
    shown.map((tp) =>
      h(
        "tr",
        {
          "data-testid": "topic-row",
          "data-topic": tp.name,
          "data-group": tp.group,
          class: "clickable" + (tp.name === state.selected ? " selected" : ""),
          tabindex: "0",
          onclick: () => selectTopic(tp.name),
          onkeydown: (ev) => {
            if (ev.key === "Enter") selectTopic(tp.name);
          },
        },
        h("td", { class: "mono" }, tp.name),
        h("td", {}, h("span", { class: `chip group-${tp.group}` }, tp.group || DASH)),
        h("td", { class: "nowrap" }, tp.security_level ?? DASH),
        h("td", { class: "nowrap" }, tp.owner || DASH),
        h("td", { class: "detail-text" }, tp.description || ""),
      ),
    ),
    state.topics ? t("common.none") : t("common.loading"),
    5,
  );
}

function renderDetail() {
  const panel = $("topic-fields");
  const d = state.detail;
  if (!d) {
    panel.replaceChildren(h("p", { class: "muted" }, t("catalog.select_hint")));
    delete panel.dataset.topic;
    return;
  }
  if (d.loading) {
    panel.replaceChildren(h("h2", { class: "mono" }, d.name), h("p", { class: "muted" }, t("common.loading")));
    return;
  }
  if (d.error) {
    panel.replaceChildren(h("h2", { class: "mono" }, d.name), h("p", { class: "reason" }, d.error));
    return;
  }
  const tp = d.topic;
  panel.dataset.topic = tp.name;
  const security = [tp.security_level, tp.security_category].filter((v) => v !== null && v !== undefined && v !== "").join(" / ") || DASH;
  const meta = [
    ["catalog.partitions", tp.partitions ?? DASH, "partitions"],
    ["catalog.retention", fmtRetention(tp.retention_ms), "retention"],
    ["catalog.cleanup", tp.cleanup_policy || DASH, "cleanup"],
    ["catalog.key", tp.key || DASH, "key"],
    ["catalog.value_schema", tp.value_schema || DASH, "value-schema"],
    ["catalog.security", security, "security"],
    ["catalog.owner", tp.owner || DASH, "owner"],
  ];
  const fields = tp.fields || [];
  const hasDefault = fields.some((f) => "default" in f);
  const head = h(
    "tr",
    {},
    h("th", {}, t("catalog.field.name")),
    h("th", {}, t("catalog.field.type")),
    h("th", {}, t("catalog.field.doc")),
    hasDefault ? h("th", {}, t("catalog.field.default")) : null,
  );
  const body = h("tbody");
  fillBody(
    body,
    fields.map((f) =>
      h(
        "tr",
        { "data-testid": "field-row", "data-field": f.name },
        h("td", { class: "mono" }, f.name),
        h("td", { class: "mono type" }, avroType(f.type)),
        h("td", { class: "detail-text" }, f.doc || ""),
        hasDefault ? h("td", { class: "mono" }, "default" in f ? JSON.stringify(f.default) : "") : null,
      ),
    ),
    t("catalog.no_fields"),
    hasDefault ? 4 : 3,
  );
  panel.replaceChildren(
    h("div", { class: "detail-title" }, h("h2", { class: "mono", "data-testid": "topic-name" }, tp.name), h("span", { class: `chip group-${tp.group}` }, tp.group || "")),
    tp.description ? h("p", { class: "topic-desc" }, tp.description) : null,
    h(
      "dl",
      { class: "kv", "data-testid": "topic-meta" },
      ...meta.flatMap(([k, v, id]) => [h("dt", {}, t(k)), h("dd", { class: "mono", "data-meta": id }, String(v))]),
    ),
    h("h3", {}, `${t("catalog.fields")} (${fields.length})`),
    h("div", { class: "table-wrap" }, h("table", { class: "data compact", "data-testid": "topic-field-table" }, h("thead", {}, head), body)),
  );
}

async function selectTopic(name) {
  state.selected = name;
  state.detail = { name, loading: true };
  renderList();
  renderDetail();
  if (window.location.hash !== "#" + encodeURIComponent(name)) {
    window.history.replaceState(null, "", "#" + encodeURIComponent(name));
  }
  try {
    const topic = await api("/api/catalog/topics/" + encodeURIComponent(name));
    if (state.selected === name) state.detail = { name, topic };
    clearError();
  } catch (err) {
    if (state.selected !== name) return;
    state.detail = { name, error: err instanceof ApiError ? err.detail : String(err) };
    if (!(err instanceof ApiError && err.status === 404)) reportError(err);
  }
  renderDetail();
}

async function init() {
  applyI18n(document);
  mountHeader("catalog");
  renderList();
  $("topic-filter").addEventListener("input", renderList);
  $("topic-group").addEventListener("change", renderList);
  onLangChange(() => {
    renderList();
    renderDetail();
  });
  try {
    state.topics = await api("/api/catalog/topics");
  } catch (err) {
    reportError(err);
    return;
  }
  renderList();
  const wanted = decodeURIComponent(window.location.hash.slice(1));
  if (wanted && state.topics.topics.some((tp) => tp.name === wanted)) selectTopic(wanted);
}

init();
