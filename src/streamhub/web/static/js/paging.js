// Filter chips with counts and a pager, for lists served one page at a time (the console at
// a province's 1,751 institutions). The server filters, orders and pages; these only draw
// what it answered ({counts, page, pages, matched}) and call back with the choice.

import { t } from "./i18n.js";
import { fmtInt, h } from "./util.js";

/**
 * Chips: [{value, label, count, status}] plus "all" first; the picked one is aria-pressed.
 * prefix names the data-testids: `${prefix}-chip` with data-value and data-count.
 */
export function renderChips(container, prefix, options, picked, onPick) {
  const total = options.reduce((sum, o) => sum + (o.count || 0), 0);
  const all = { value: "", label: t("common.all"), count: total, status: "all" };
  container.replaceChildren(
    ...[all, ...options].map((o) =>
      h(
        "button",
        {
          type: "button",
          class: `chip chip-filter status-${o.status || "unknown"}${o.value === picked ? " picked" : ""}`,
          "data-testid": `${prefix}-chip`,
          "data-value": o.value,
          "data-count": String(o.count ?? 0),
          "aria-pressed": String(o.value === picked),
          onclick: () => onPick(o.value),
        },
        o.label,
        " ",
        h("span", { class: "chip-count" }, fmtInt(o.count ?? 0)),
      ),
    ),
  );
}

/** Previous / "page p of n · m rows" / next. data: the API's {page, pages, matched}. */
export function renderPager(container, prefix, data, onGo) {
  if (!data) {
    container.replaceChildren();
    return;
  }
  const page = data.page || 1;
  const pages = data.pages || 1;
  container.dataset.page = String(page);
  container.dataset.pages = String(pages);
  container.dataset.matched = String(data.matched ?? 0);
  container.replaceChildren(
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        "data-testid": `${prefix}-prev`,
        disabled: page <= 1,
        onclick: () => onGo(page - 1),
      },
      "‹ " + t("pager.prev"),
    ),
    h(
      "span",
      { class: "pager-status muted small", "data-testid": `${prefix}-status` },
      t("pager.status", { page: fmtInt(page), pages: fmtInt(pages), matched: fmtInt(data.matched ?? 0) }),
    ),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        "data-testid": `${prefix}-next`,
        disabled: page >= pages,
        onclick: () => onGo(page + 1),
      },
      t("pager.next") + " ›",
    ),
  );
}
