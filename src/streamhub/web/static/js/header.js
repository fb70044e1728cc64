// The header every page shares: title, the signed-in user and role, links to the pages the
// role may open (from /api/me), sign-out and the language switch.

import { api, leaving, navigate, reportError } from "./api.js";
import { applyI18n, makeLangSwitch, onLangChange, t } from "./i18n.js";
import { h } from "./util.js";

/** "dashboard", "/dashboard" or {path: "/dashboard"} -> "dashboard". */
export function pageKey(page) {
  const raw = typeof page === "string" ? page : page && (page.path || page.href || page.name || "");
  return String(raw).replace(/^\/+/, "").split(/[?#]/)[0];
}

export function pageHref(page) {
  return "/" + pageKey(page);
}

// Pages that are part of another (auth.PART_OF): whoever may open the other gets a link too.
const PART_OF = { quality: "console" };

/** The pages a role's links lead to: its own, and those part of one of them. */
export function withParts(pages) {
  const keys = (pages || []).map(pageKey);
  const parts = Object.entries(PART_OF)
    .filter(([part, whole]) => keys.includes(whole) && !keys.includes(part))
    .map(([part]) => part);
  return [...keys, ...parts];
}

/** Links to the given pages, the current one marked. */
export function pageLinks(pages, current) {
  return withParts(pages).map((p) => {
    const key = pageKey(p);
    return h(
      "a",
      {
        href: pageHref(p),
        class: key === current ? "nav-link current" : "nav-link",
        "aria-current": key === current ? "page" : null,
        "data-testid": "nav-link",
        "data-page": key,
      },
      t("page." + key),
    );
  });
}

async function logout() {
  leaving();
  try {
    await api("/api/logout", { method: "POST", redirectOn401: false });
  } catch (err) {
    if (!(err && err.status === 401)) reportError(err);
  }
  navigate("/login");
}

/**
 * Render the header into <header id="app-header"> for page `current` and resolve with /api/me
 * ({user, role, pages}); null on the login page (withUser false).
 */
export async function mountHeader(current, { withUser = true } = {}) {
  const root = document.getElementById("app-header");
  const title = h("h1", { class: "page-title", "data-testid": "page-title", "data-i18n": "page." + current });
  const nav = h("nav", { class: "nav", "data-testid": "nav", "aria-label": "pages" });
  const user = h("span", { class: "user", "data-testid": "user-info" });
  const logoutBtn = h("button", {
    type: "button",
    class: "btn btn-ghost",
    "data-testid": "logout",
    "data-i18n": "header.logout",
    hidden: true,
    onclick: logout,
  });
  root.replaceChildren(
    h("div", { class: "brand" }, h("span", { class: "brand-mark" }, "SH"), h("span", { class: "brand-name", "data-i18n": "app.name" })),
    title,
    h("div", { class: "header-right" }, nav, user, logoutBtn, makeLangSwitch()),
  );
  applyI18n(document);
  if (!withUser) return null;

  let me = null;
  const renderUser = () => {
    if (!me) return;
    nav.replaceChildren(...pageLinks(me.pages, current));
    user.textContent = t("header.user", { user: me.user, role: t("role." + me.role) });
    user.dataset.role = me.role;
    logoutBtn.hidden = false;
  };
  onLangChange(renderUser);
  try {
    me = await api("/api/me");
  } catch (err) {
    reportError(err);
    return null;
  }
  renderUser();
  return me;
}
