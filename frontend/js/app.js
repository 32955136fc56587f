// Entry point: hash router (#/, #/jobs/<id>, #/history?page=N), settings panel, server health banner, language.
import { ApiError, getApiKey, getBackend, health, saveSettings } from "./api.js";
import { initCreate, reloadOptions, renderOptions, resetCreate } from "./create.js";
import { initHistory, relabelHistory, showHistory, stopHistory } from "./history.js";
import { getLanguage, LANGUAGES, setLanguage, t, translateDom } from "./i18n.js";
import { initJob, relabelJob, showJob, stopJob } from "./job.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["view-create", "view-job", "view-history"];

// --- routing --------------------------------------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean);
  const params = new URLSearchParams(query);
  if (parts[0] === "jobs" && parts[1]) return { name: "job", id: decodeURIComponent(parts[1]) };
  if (parts[0] === "history") {
    return { name: "history", page: parseInt(params.get("page") || "1", 10) || 1, status: params.get("status") || "" };
  }
  return { name: "create" };
}

function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
  for (const [nav, view] of [["nav-create", "view-create"], ["nav-history", "view-history"]]) {
    if (view === id) $(nav).setAttribute("aria-current", "page");
    else $(nav).removeAttribute("aria-current");
  }
}

let pendingJob = null; // the job JSON from the submit answer, so the job screen shows at once

function route({ focus = true } = {}) {
  const r = parseHash();
  stopJob();
  stopHistory();
  document.title = "Text2Video";
  if (r.name === "job") {
    showView("view-job");
    const job = pendingJob && pendingJob.id === r.id ? pendingJob : null;
    pendingJob = null;
    showJob(r.id, job);
  } else if (r.name === "history") {
    showView("view-history");
    showHistory(r);
  } else {
    showView("view-create");
  }
  if (focus) $("main").focus({ preventScroll: true });
}

// --- settings and health --------------------------------------------------------------------------------------

function toggleSettings(open) {
  const panel = $("settings-panel");
  const show = open ?? panel.hidden;
  panel.hidden = !show;
  $("settings-toggle").setAttribute("aria-expanded", String(show));
  if (show) {
    $("set-backend").value = getBackend();
    $("set-key").value = getApiKey();
    $("set-backend-error").textContent = "";
    $("set-backend").focus();
  }
}

function setupSettings() {
  $("settings-toggle").addEventListener("click", () => toggleSettings());
  $("settings-close").addEventListener("click", () => { toggleSettings(false); $("settings-toggle").focus(); });
  $("settings-panel").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { toggleSettings(false); $("settings-toggle").focus(); }
  });
  $("settings-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const backend = $("set-backend").value.trim();
    if (backend && !/^https?:\/\/[^\s/]+/i.test(backend)) {
      $("set-backend-error").textContent = t("settings.bad_url", { value: backend });
      $("set-backend").setAttribute("aria-invalid", "true");
      $("set-backend").focus();
      return;
    }
    $("set-backend").removeAttribute("aria-invalid");
    saveSettings({ backend, apiKey: $("set-key").value });
    setBanner([t("settings.saved")]);
    toggleSettings(false);
    await checkHealth();
    await reloadOptions();
    route({ focus: false });
  });
}

function setBanner(lines, kind = "info") {
  const banner = $("banner");
  banner.className = `banner ${kind}`;
  banner.replaceChildren(...lines.map((line) => Object.assign(document.createElement("p"), { textContent: line })));
  banner.hidden = !lines.length;
}

let lastHealth = null;

function renderHealth() {
  const h = lastHealth;
  if (!h) return;
  if (h.error) {
    const err = h.error;
    if (err.status === 401) setBanner([getApiKey() ? t("health.bad_key") : t("health.need_key")], "warn");
    else setBanner([t("health.down", { url: getBackend() || location.origin, reason: err.detail || err.status })], "warn");
    return;
  }
  const lines = [];
  if (h.auth_required && !getApiKey()) lines.push(t("health.need_key"));
  if (h.workers && h.workers.alive === 0) lines.push(t("health.no_worker"));
  if (h.models && h.models.demo) lines.push(t("health.demo"));
  setBanner(lines, lines.length ? "warn" : "info");
}

async function checkHealth() {
  try {
    const h = await health();
    // with keys on, an anonymous health answer has no details: ask once more for a key error worth showing
    lastHealth = h;
    if (h.auth_required && getApiKey() && !h.workers) lastHealth = { error: new ApiError(401, { detail: "" }) };
  } catch (err) {
    lastHealth = { error: err };
  }
  renderHealth();
}

// --- language -------------------------------------------------------------------------------------------------

function setupLanguage() {
  const select = $("ui-lang");
  select.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) => {
    const opt = document.createElement("option");
    opt.value = code;
    opt.lang = code;
    opt.textContent = name;
    return opt;
  }));
  select.value = getLanguage();
  select.addEventListener("change", () => applyLanguage(select.value));
}

function applyLanguage(lang) {
  setLanguage(lang);
  $("ui-lang").value = lang;
  translateDom();
  renderOptions();
  relabelHistory();
  relabelJob();
  renderHealth();
  if (!$("view-history").hidden) route({ focus: false });
}

// --- start ----------------------------------------------------------------------------------------------------

async function main() {
  setLanguage(getLanguage());
  translateDom();
  setupLanguage();
  setupSettings();
  initHistory();
  initJob(() => { location.hash = "#/history"; });
  window.addEventListener("hashchange", () => route());
  route({ focus: false });
  await Promise.all([
    initCreate((job) => {
      pendingJob = job;
      resetCreate();
      location.hash = `#/jobs/${job.id}`;
    }),
    checkHealth(),
  ]);
  setInterval(checkHealth, 30_000); // a worker that stops (or comes back) shows in the banner
  document.body.dataset.ready = "true"; // the options are loaded: tests and users may submit now
}

main();
