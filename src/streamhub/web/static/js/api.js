// fetch wrapper for the streamhub JSON API. Every error the API returns is JSON
// {"detail": "..."}; the detail is what the user sees. 401 sends the browser to the login page
// (coming back here afterwards), 403 shows the "not allowed" message.

import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

function detailOf(payload, status) {
  const d = payload && payload.detail;
  if (typeof d === "string" && d) return d;
  // FastAPI validation errors: [{loc: [...], msg: "..."}].
  if (Array.isArray(d) && d.length) {
    return d.map((e) => (e && e.msg ? `${(e.loc || []).join(".")}: ${e.msg}` : String(e))).join("; ");
  }
  return t("error.http", { status });
}

export function loginUrl() {
  const here = window.location.pathname + window.location.search;
  return "/login?next=" + encodeURIComponent(here);
}

let redirecting = false;

/** From now on a 401 does not redirect (signing out: polls in flight would come back 401). */
export function leaving() {
  redirecting = true;
}

/** Leave the page; later 401s from polls still in flight must not send the browser elsewhere. */
export function navigate(url) {
  leaving();
  window.location.assign(url);
}

/**
 * Call the API. Returns the parsed JSON (null for 204). Throws ApiError with the API's detail.
 * options: method, body (sent as JSON), redirectOn401 (default true; the login form turns it off).
 */
export async function api(path, { method = "GET", body, redirectOn401 = true } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    cache: "no-store",
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, t("error.network"));
  }
  let payload = null;
  if (resp.status !== 204) {
    const text = await resp.text();
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = null;
      }
    }
  }
  if (resp.ok) return payload;

  const detail = detailOf(payload, resp.status);
  if (resp.status === 401 && redirectOn401) {
    // Polls keep failing until the browser has left; navigate once.
    if (!redirecting) navigate(loginUrl());
  } else if (resp.status === 403) {
    showError(`${t("error.forbidden")}：${detail}`, "forbidden");
  }
  throw new ApiError(resp.status, detail);
}

function banner() {
  let el = document.getElementById("error-banner");
  if (!el) {
    el = document.createElement("div");
    el.id = "error-banner";
    el.setAttribute("data-testid", "error-banner");
    el.setAttribute("role", "alert");
    el.className = "error-banner";
    el.hidden = true;
    const main = document.querySelector("main") || document.body;
    main.prepend(el);
  }
  return el;
}

/** Show a message in the page's error banner (kind "forbidden" styles it as such); a
 * technical detail, when given, is the banner's tooltip. */
export function showError(message, kind = "error", detail = "") {
  const el = banner();
  el.textContent = message;
  el.title = detail;
  el.dataset.kind = kind;
  el.hidden = false;
}

export function clearError() {
  const el = document.getElementById("error-banner");
  if (el && el.dataset.kind !== "forbidden") el.hidden = true;
}

/** Report a failed call unless it is a 401 (the page is leaving for /login). */
export function reportError(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return;
    if (err.status === 403) return; // already shown by api()
    // ClickHouse or the lander is down: say so plainly; the operator's detail on hover
    if (err.status === 503) showError(t("error.unavailable"), "error", err.detail);
    else showError(err.detail);
  } else {
    showError(String(err && err.message ? err.message : err));
    console.error(err);
  }
}

/**
 * Run fn now and then every intervalMs, never overlapping: the next run is scheduled when the
 * previous one has finished. Returns a function that runs it at once (e.g. after a filter change).
 */
export function poll(fn, intervalMs) {
  let timer = null;
  let running = false;
  let again = false;
  async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    try {
      await fn();
    } catch (err) {
      reportError(err);
    } finally {
      running = false;
      if (again) {
        again = false;
        run();
      } else {
        timer = setTimeout(run, intervalMs);
      }
    }
  }
  run();
  return run;
}
