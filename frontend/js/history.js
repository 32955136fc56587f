// The History screen (#/history?page=N&status=S): every job, newest first, paginated; open, download, delete.
import { ApiError, deleteJob, fileUrl, listJobs } from "./api.js";
import { t } from "./i18n.js";
import { el, FINISHED, formatDate } from "./util.js";

const PER_PAGE = 12;
const STATUSES = ["queued", "running", "succeeded", "failed", "canceled"]; // mirrors jobs/status.py
const $ = (id) => document.getElementById(id);

let state = { page: 1, status: "", pages: 1, token: 0 };
let refreshTimer = null;

export function initHistory() {
  $("history-status").addEventListener("change", () => {
    location.hash = historyHash(1, $("history-status").value);
  });
  $("history-refresh").addEventListener("click", () => load());
  $("history-prev").addEventListener("click", () => { location.hash = historyHash(state.page - 1, state.status); });
  $("history-next").addEventListener("click", () => { location.hash = historyHash(state.page + 1, state.status); });
  relabelHistory();
}

function historyHash(page, status) {
  const q = new URLSearchParams();
  if (page > 1) q.set("page", String(page));
  if (status) q.set("status", status);
  const query = q.toString();
  return `#/history${query ? "?" + query : ""}`;
}

export function relabelHistory() {
  const select = $("history-status");
  const keep = select.value;
  select.replaceChildren(el("option", { value: "" }, t("history.all")),
    ...STATUSES.map((s) => el("option", { value: s }, t(`job.status.${s}`))));
  select.value = keep;
}

/** Show page `page` (filtered by `status`) of the history. */
export function showHistory({ page = 1, status = "" } = {}) {
  state.page = Math.max(1, page);
  state.status = STATUSES.includes(status) ? status : "";
  $("history-status").value = state.status;
  return load();
}

export function stopHistory() {
  clearTimeout(refreshTimer);
  state.token++;
}

function thumbnail(job) {
  const files = job.files || {};
  const alt = t("history.thumb_alt", { prompt: job.prompt });
  if (files["result.gif"]) {
    return el("img", { src: fileUrl(files["result.gif"]), alt, loading: "lazy", class: "thumb" });
  }
  const clip = files["result.mp4"] || files["skeleton.mp4"];
  if (clip) {
    // #t=0.1: the browser shows that frame as the poster without playing the video
    return el("video", { src: `${fileUrl(clip)}#t=0.1`, preload: "metadata",
      muted: true, playsinline: true, class: "thumb", "aria-label": alt });
  }
  // a finished job without files will not get any: "No result", not "No preview yet"
  const label = FINISHED.has(job.status) ? "history.no_result" : "history.no_thumb";
  return el("div", { class: "thumb placeholder", role: "img", "aria-label": alt }, t(label));
}

function card(job) {
  const files = job.files || {};
  const open = `#/jobs/${job.id}`;
  const actions = [el("a", { href: open, class: "button" }, t("job.open"))];
  if (files["result.mp4"]) {
    actions.push(el("a", { href: fileUrl(files["result.mp4"], true), download: "result.mp4", class: "button" },
      t("job.download")));
  }
  actions.push(el("button", { type: "button", class: "danger", onclick: () => onDelete(job) }, t("job.delete")));
  let progress = null;
  if (!FINISHED.has(job.status)) {
    progress = el("progress", { max: "1", "aria-label": t("job.progress") });
    if (job.status === "running") progress.value = job.progress || 0;
  }
  return el("li", { class: "card", dataset: { jobId: job.id, status: job.status } },
    el("a", { href: open, class: "thumb-link", tabindex: "-1", "aria-hidden": "true" }, thumbnail(job)),
    el("div", { class: "card-body" },
      el("span", { class: `badge status-${job.status}` }, t(`job.status.${job.status}`)),
      el("p", { class: "card-prompt" }, el("a", { href: open }, job.prompt)),
      el("p", { class: "help" }, el("time", { datetime: job.created_at }, formatDate(job.created_at))),
      progress,
      el("div", { class: "card-actions" }, actions)));
}

async function load() {
  clearTimeout(refreshTimer);
  const token = ++state.token;
  const message = $("history-message");
  message.textContent = t("loading");
  try {
    const data = await listJobs({ page: state.page, perPage: PER_PAGE, status: state.status });
    if (token !== state.token) return;
    state.pages = data.pages;
    if (state.page > data.pages && data.total > 0) { // e.g. the last item of the last page was deleted
      location.hash = historyHash(data.pages, state.status);
      return;
    }
    $("history-list").replaceChildren(...data.items.map(card));
    message.textContent = data.total ? "" : t("history.empty");
    $("history-page").textContent = t("history.page", { page: data.page, pages: data.pages, total: data.total });
    $("history-prev").disabled = data.page <= 1;
    $("history-next").disabled = data.page >= data.pages;
    // keep running jobs' cards fresh while the list is on screen
    if (data.items.some((job) => !FINISHED.has(job.status))) refreshTimer = setTimeout(() => load(), 3000);
  } catch (err) {
    if (token !== state.token) return;
    message.textContent = err instanceof ApiError && err.network ? t("err.network", { reason: err.detail })
      : t("err.server", { status: err.status, detail: err.detail || String(err) });
  }
}

async function onDelete(job) {
  if (!window.confirm(t("history.confirm_delete", { prompt: job.prompt }))) return;
  try {
    await deleteJob(job.id);
    await load();
    $("history-message").textContent = t("history.deleted");
  } catch (err) {
    $("history-message").textContent = t("err.server", { status: err.status, detail: err.detail || String(err) });
  }
}
