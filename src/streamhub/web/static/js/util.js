// DOM building and number/time formatting shared by the pages. Text always goes in through
// textContent (h() children), never innerHTML: topic docs, reasons and details come from data.

/** h("td", {class: "num", dataset: {x: 1}, onclick: fn}, "text", childNode, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const DASH = "—";
// Every hidden cell shows the same neutral mark, whether it is a count of 1-4 or hidden so that
// one cannot be worked out by subtraction: any difference between the two would leak.
export const SUPPRESSED = DASH;

const intFmt = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 0 });
const moneyFmt = new Intl.NumberFormat("zh-CN", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

export function fmtInt(v) {
  return v === null || v === undefined ? DASH : intFmt.format(v);
}

export function fmtMoney(v) {
  return v === null || v === undefined ? DASH : "¥" + moneyFmt.format(v);
}

/** A 0..1 share as a percentage with one decimal. */
export function fmtPct(v) {
  return v === null || v === undefined ? DASH : (v * 100).toFixed(1) + "%";
}

const FORMATTERS = { int: fmtInt, money: fmtMoney, pct: fmtPct };

/**
 * One figure of a Figures object: {raw, text}. raw is String(value) exactly as the API sent it
 * ("" when null); text is "—" when null, whether the field is hidden (named in suppressed: a
 * small count, or one hidden to protect a small one; suppressed is then true) or absent.
 */
export function figure(figures, field, kind = "int") {
  const value = figures ? figures[field] : null;
  const suppressed = !!(figures && Array.isArray(figures.suppressed) && figures.suppressed.includes(field));
  if (value === null || value === undefined) {
    return { raw: "", text: suppressed ? SUPPRESSED : DASH, suppressed };
  }
  return { raw: String(value), text: FORMATTERS[kind](value), suppressed: false };
}

const TZ = "Asia/Shanghai";
const partsFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/** Epoch ms as Shanghai time: "MM-DD HH:mm" (seconds with withSeconds, year with withYear). */
export function fmtTime(ms, { withSeconds = false, withYear = false } = {}) {
  if (ms === null || ms === undefined || ms === "") return DASH;
  const p = {};
  for (const part of partsFmt.formatToParts(new Date(Number(ms)))) p[part.type] = part.value;
  const date = withYear ? `${p.year}-${p.month}-${p.day}` : `${p.month}-${p.day}`;
  const time = withSeconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
  return `${date} ${time}`;
}

/** Replace all rows of a table body; shows one "no data" row when rows is empty. */
export function fillBody(tbody, rows, emptyText, colspan) {
  tbody.replaceChildren(...rows);
  if (!rows.length) {
    tbody.append(h("tr", { class: "empty" }, h("td", { colspan }, emptyText)));
  }
}

/** Fill a <select> with [value, label] pairs, keeping the current choice when still offered. */
export function fillSelect(select, options) {
  // Rebuilding an open <select> closes it: leave it alone when nothing changed.
  const sig = JSON.stringify(options);
  if (select.dataset.sig === sig) return;
  select.dataset.sig = sig;
  const current = select.value;
  select.replaceChildren(...options.map(([value, label]) => h("option", { value }, label)));
  if (options.some(([value]) => value === current)) select.value = current;
}
