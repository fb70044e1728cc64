// The missing records of a MISSING reconciliation window, as `streamhub reconcile diff` lists
// them (the API reads Kafka, which takes seconds: loaded on demand, never by the 8 s refresh).
// Keys are source primary keys: kept in this module only while the page is open.

import { api, ApiError } from "./api.js";
import { t } from "./i18n.js";
import { DASH, fillBody, fmtTime, h } from "./util.js";

const loaded = new Map(); // window key -> {loading} | {data} | {error}

function params(w) {
  const p = new URLSearchParams({
    institution: w.institution_id,
    system: w.system,
    table: w.table,
    window_start_ms: String(w.window_start_ms),
  });
  if (w.database) p.set("database", w.database); // the same table name in two databases
  return p;
}

async function load(w, key, rerender) {
  loaded.set(key, { loading: true });
  rerender();
  try {
    const data = await api("/api/console/reconciliation/missing?" + params(w).toString());
    if (!loaded.has(key)) return; // the panel was closed meanwhile: keep no keys
    loaded.set(key, { data });
  } catch (err) {
    if (!loaded.has(key)) return;
    loaded.set(key, { error: err instanceof ApiError ? err.detail : String(err) });
  }
  rerender();
}

function missingTable(data) {
  const tbody = h("tbody");
  fillBody(
    tbody,
    (data.missing || []).map((m) =>
      h(
        "tr",
        { "data-testid": "recon-missing-row" },
        h("td", {}, m.op || DASH),
        h("td", { class: "time" }, fmtTime(m.commit_ts_ms, { withSeconds: true, withYear: true })),
        h("td", { class: "num" }, m.position_seq ?? DASH),
        h("td", { class: "mono" }, JSON.stringify(m.key)),
      ),
    ),
    t("recon.missing_none"),
    4,
  );
  const head = h("tr", {}, ...["col.op", "col.commit_time", "col.position", "col.key"].map((k) => h("th", {}, t(k))));
  return h("div", { class: "table-wrap" }, h("table", { class: "data compact", "data-testid": "recon-missing" }, h("thead", {}, head), tbody));
}

/** The section of the drill-down panel for window w (null unless it is MISSING). */
export function missingSection(w, key, rerender) {
  if (!w || w.status !== "MISSING") return null;
  const got = loaded.get(key);
  const button = h(
    "button",
    { type: "button", class: "btn btn-small", "data-testid": "recon-missing-load", disabled: !!(got && got.loading) },
    t("recon.missing_load"),
  );
  button.addEventListener("click", () => load(w, key, rerender));
  const parts = [h("h4", {}, t("recon.missing_title"), " ", button)];
  if (got && got.loading) parts.push(h("p", { class: "muted" }, t("recon.missing_loading")));
  else if (got && got.error) parts.push(h("p", { class: "reason", "data-testid": "recon-missing-error" }, got.error));
  else if (got && got.data) {
    const d = got.data;
    parts.push(
      h("p", { class: "muted" }, t("recon.missing_summary", { table: d.table, total: d.source_changes, n: d.missing_total ?? d.missing.length })),
      missingTable(d),
    );
    if (d.truncated) parts.push(h("p", { class: "muted" }, t("recon.missing_truncated", { n: d.missing.length })));
    if (d.missing.length && d.repair_command) {
      parts.push(h("p", {}, t("recon.missing_repair"), " ", h("code", { class: "mono", "data-testid": "recon-missing-repair" }, d.repair_command)));
    }
  }
  return h("section", { class: "recon-missing" }, ...parts);
}

/** Forget what was loaded (the panel was closed): keys are not kept around. */
export function forgetMissing() {
  loaded.clear();
}
