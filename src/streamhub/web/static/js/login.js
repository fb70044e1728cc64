// Sign-in form: POST /api/login as JSON, then go to ?next (a local path only) or the first
// page the role may open. A refused sign-in shows the API's detail in login-error.

import { api, ApiError } from "./api.js";
import { mountHeader, pageHref } from "./header.js";
import { t } from "./i18n.js";

/** ?next is only followed when it is a path on this site (no //host or scheme). */
function safeNext() {
  const next = new URLSearchParams(window.location.search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return null;
  if (next.startsWith("/login")) return null;
  return next;
}

function init() {
  mountHeader("login", { withUser: false });
  const form = document.getElementById("login-form");
  const errorEl = document.querySelector('[data-testid="login-error"]');
  const submit = document.querySelector('[data-testid="login-submit"]');

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorEl.hidden = true;
    errorEl.textContent = "";
    submit.disabled = true;
    try {
      const res = await api("/api/login", {
        method: "POST",
        body: {
          username: form.elements.username.value.trim(),
          password: form.elements.password.value,
        },
        redirectOn401: false,
      });
      const pages = (res && res.pages) || [];
      const target = safeNext() || (pages.length ? pageHref(pages[0]) : null);
      if (!target) {
        errorEl.textContent = t("login.no_pages");
        errorEl.hidden = false;
        return;
      }
      window.location.assign(target);
    } catch (err) {
      errorEl.textContent = err instanceof ApiError ? err.detail : t("login.failed");
      errorEl.hidden = false;
      form.elements.password.select();
    } finally {
      submit.disabled = false;
    }
  });
}

init();
