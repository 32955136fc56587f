// The job screen (#/jobs/<id>): stages, a real progress bar with step i/N and ETA, the English prompt, the pose
// report and skeleton preview as soon as they exist, cancel; the result, side-by-side and downloads on success;
// the error and what to do on failure. Polls with backoff while the job runs. While the video is denoised, a live
// preview (preview.gif, rough colours) animates in place of the result, refreshed when the worker rewrites it.
import { ApiError, cancelJob, deleteJob, fileUrl, getJob, listModels, request } from "./api.js";
import { has, localize, t } from "./i18n.js";
import { modelTitle } from "./models.js";
import { poseChart } from "./posechart.js";
import { el, FINISHED, formatDate, formatDuration, richText, STAGES } from "./util.js";

const POLL_MIN_MS = 700;   // while something changes
const POLL_MAX_MS = 3000;  // when nothing does (a queue), and after network errors: a job may start any moment
const DOWNLOADS = ["result.mp4", "result.gif", "side_by_side.mp4", "skeleton.mp4", "keypoints.json"];

let view = null;      // {id, job, nodes, timer, delay, token}
let onDeleted = () => {};
let catalog = null;   // GET /api/v1/models, once: the model titles (a job names its model)

export function initJob(deleted) {
  onDeleted = deleted;
  document.addEventListener("visibilitychange", () => {
    // poll at once when the tab comes back instead of waiting out a long backoff
    if (document.visibilityState === "visible" && view && view.job && !FINISHED.has(view.job.status)) schedule(0);
  });
}

/** Show job `id` (from the URL); `job` is its JSON when the caller already has it. */
export function showJob(id, job = null) {
  stopJob();
  const root = document.getElementById("view-job");
  view = { id, job: null, nodes: null, timer: null, delay: POLL_MIN_MS, token: Symbol(id) };
  root.replaceChildren(el("p", { class: "help" }, t("loading")));
  if (job) update(job);
  schedule(job ? POLL_MIN_MS : 0);
}

export function stopJob() {
  if (view && view.timer) clearTimeout(view.timer);
  view = null;
}

/** Re-render the current job in a new interface language. */
export function relabelJob() {
  if (view && view.job) {
    const job = view.job;
    view.nodes = null;
    update(job);
  }
}

function schedule(ms) {
  if (!view) return;
  clearTimeout(view.timer);
  const token = view.token;
  view.timer = setTimeout(() => poll(token), ms);
}

function fingerprint(job) {
  return [job.status, job.stage, job.step, job.progress, Object.keys(job.files || {}).length, job.cancel_requested,
    job.english_prompt, job.pose_summary].join("|");
}

async function poll(token) {
  if (!view || view.token !== token) return;
  try {
    const job = await getJob(view.id);
    if (!view || view.token !== token) return;
    const changed = !view.job || fingerprint(view.job) !== fingerprint(job);
    update(job);
    if (FINISHED.has(job.status)) return;
    // a queued job may wait long: back off; a running one moves any moment (pose done -> denoising): keep pace
    view.delay = changed || job.status === "running" ? POLL_MIN_MS : Math.min(POLL_MAX_MS, view.delay * 1.5);
    if (document.visibilityState === "hidden") view.delay = POLL_MAX_MS;
  } catch (err) {
    if (!view || view.token !== token) return;
    if (err instanceof ApiError && err.status === 404) {
      view.job = null;
      document.getElementById("view-job").replaceChildren(
        el("h1", {}, t("job.title")),
        el("p", { class: "notice error-box", role: "alert" }, t("job.not_found", { id: view.id })),
        el("p", {}, el("a", { href: "#/" }, t("job.new"))));
      return;
    }
    showTransient(err);
    view.delay = Math.min(POLL_MAX_MS, view.delay * 2);
  }
  schedule(view.delay);
}

function showTransient(err) {
  const msg = err instanceof ApiError && err.network ? t("err.network", { reason: err.detail })
    : (err instanceof ApiError ? t("err.server", { status: err.status, detail: err.detail }) : String(err));
  if (view.nodes) view.nodes.notice.textContent = msg;
  else document.getElementById("view-job").replaceChildren(el("p", { class: "notice error-box", role: "alert" }, msg));
}

// --- building and updating the screen -------------------------------------------------------------------------

function build(job) {
  const root = document.getElementById("view-job");
  const n = {};
  n.status = el("span", { class: "badge", id: "job-status" });
  n.stages = el("ol", { class: "stages", "aria-label": t("job.stages") },
    STAGES.map((stage) => el("li", { dataset: { stage } }, t(`job.stage.${stage}`))));
  n.progress = el("progress", { id: "job-progress", max: "1", "aria-labelledby": "job-progress-label" });
  n.progressText = el("span", { id: "job-progress-text", class: "progress-text", "aria-live": "polite" });
  n.notice = el("p", { class: "notice", role: "status" });
  n.cancel = el("button", { type: "button", id: "job-cancel", class: "danger", onclick: onCancel }, t("job.cancel"));
  n.facts = el("dl", { class: "facts" });
  n.poseChart = el("div", { class: "pose-chart-box" });
  n.error = el("div", { id: "job-error", class: "error-box", role: "alert", hidden: true });
  n.media = el("div", { class: "media" });
  n.downloads = el("ul", { class: "downloads", id: "job-downloads" });
  n.downloadsBox = el("section", { class: "downloads-box", hidden: true, "aria-labelledby": "dl-title" },
    el("h2", { id: "dl-title" }, t("job.downloads")), n.downloads);
  n.params = el("dl", { class: "facts small" });
  n.figures = {};
  root.replaceChildren(
    el("div", { class: "job-head" },
      el("h1", {}, t("job.title"), " ", el("code", { class: "job-id" }, job.id.slice(0, 8))), n.status),
    el("p", { class: "job-prompt" }, job.prompt),
    n.inputs = el("div", { class: "job-inputs", id: "job-inputs" }),
    n.stages,
    el("div", { class: "progress-block" },
      el("label", { id: "job-progress-label", for: "job-progress" }, t("job.progress")), n.progress, n.progressText),
    n.notice,
    el("div", { class: "actions" }, n.cancel),
    n.error,
    n.media,
    n.downloadsBox,
    n.facts,
    n.poseChart,
    el("details", { class: "params" }, el("summary", {}, t("job.params")), n.params),
    el("div", { class: "actions" },
      el("a", { href: "#/", class: "button" }, t("job.new")),
      el("a", { href: "#/history", class: "button" }, t("nav.history")),
      el("button", { type: "button", class: "danger", id: "job-delete", onclick: onDelete }, t("job.delete"))),
  );
  return n;
}

function previewFigure() {
  const img = el("img", { id: "job-preview", alt: t("job.preview"), dataset: { file: "preview.gif" } });
  const caption = el("figcaption", {}, t("job.preview"));
  return el("figure", { class: "clip clip-preview" }, img, caption);
}

/** Fetch the live preview again after a new step; show it only when its bytes changed (a new preview restarts
 *  the animation, an unchanged one must not). `no-cache` revalidates by ETag: an unchanged file costs a 304. */
async function refreshPreview(n, url, step, total) {
  if (n.previewStep === step || n.previewLoading) return;
  n.previewLoading = true;
  try {
    const resp = await fetch(fileUrl(url), { cache: "no-cache" });
    if (!resp.ok) return;
    const bytes = new Uint8Array(await resp.arrayBuffer());
    n.previewStep = step;
    const old = n.previewBytes;
    if (old && old.length === bytes.length && old.every((b, i) => b === bytes[i])) return;
    n.previewBytes = bytes;
    const fig = n.figures["preview.gif"];
    const img = fig.querySelector("img");
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(new Blob([bytes], { type: "image/gif" }));
    img.dataset.step = String(step);
    fig.querySelector("figcaption").textContent = `${t("job.preview")} · ${t("job.step", { i: step, n: total })}`;
  } catch (err) {
    // a preview is a nicety: the next poll tries again
  } finally {
    n.previewLoading = false;
  }
}

function figure(key, captionKey, url, { autoplay = false, poster = false } = {}) {
  const video = el("video", {
    src: fileUrl(url), controls: true, muted: true, playsinline: true, loop: true, preload: "auto",
    autoplay, "aria-label": t(captionKey), dataset: { file: key },
  });
  video.muted = true; // the attribute alone does not mute in every browser; autoplay needs it
  return el("figure", { class: `clip clip-${key.replace(/\W/g, "-")}` }, video, el("figcaption", {}, t(captionKey)));
}

function setFacts(dl, rows) {
  const shown = ([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length);
  dl.replaceChildren(...rows.filter(shown).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function update(job) {
  if (!view) return;
  if (!view.nodes || view.nodes.jobId !== job.id) {
    view.nodes = build(job);
    view.nodes.jobId = job.id;
  }
  view.job = job;
  const n = view.nodes;
  const files = job.files || {};
  const finished = FINISHED.has(job.status);

  n.status.textContent = t(`job.status.${job.status}`);
  n.status.className = `badge status-${job.status}`;
  n.notice.textContent = "";

  // stages: done / current / waiting (a finished job marks the ones it got through)
  const current = STAGES.indexOf(job.stage);
  for (const li of n.stages.children) {
    const i = STAGES.indexOf(li.dataset.stage);
    const done = job.status === "succeeded" || (current >= 0 && i < current);
    const stopped = i === current && (job.status === "failed" || job.status === "canceled");
    li.className = done ? "done" : (stopped ? job.status : (i === current && job.status === "running" ? "current" : ""));
    // a stage it got through says so ("Prompt translated"), not what it was doing ("Translating prompt")
    li.textContent = t(done ? `job.stage_done.${li.dataset.stage}` : `job.stage.${li.dataset.stage}`);
    if (i === current && job.status === "running") li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }

  // progress: indeterminate until a worker reports; step i/N and ETA while generating
  if (job.status === "queued") {
    n.progress.removeAttribute("value");
    n.progressText.textContent = t("job.waiting");
  } else {
    n.progress.value = job.status === "succeeded" ? 1 : Math.max(0, Math.min(1, job.progress || 0));
    const parts = [];
    if (job.status === "running" && job.stage) parts.push(t(`job.stage.${job.stage}`));
    // step i/N counts denoising steps; other stages report their own fractions through `progress` only
    const denoising = job.stage === "generating" || job.stage === "encoding" || job.status === "succeeded";
    if (job.total_steps && denoising) parts.push(t("job.step", { i: job.step || 0, n: job.total_steps }));
    if ((job.status === "failed" || job.status === "canceled") && job.stage) {
      parts.unshift(t("job.stopped_at", { stage: t(`job.stage.${job.stage}`) }));
    }
    if (job.status === "running" && Number.isFinite(job.eta_seconds) && job.eta_seconds > 0) {
      parts.push(t("job.eta", { eta: formatDuration(job.eta_seconds) }));
    }
    if (!parts.length) parts.push(`${Math.round((job.progress || 0) * 100)} %`);
    n.progressText.textContent = parts.join(" · ") || t(`job.status.${job.status}`);
  }
  document.title = finished ? `${t(`job.status.${job.status}`)} · Text2Video`
    : `${Math.round((job.progress || 0) * 100)} % · Text2Video`;

  // cancel
  n.cancel.hidden = finished;
  n.cancel.disabled = Boolean(job.cancel_requested);
  if (job.cancel_requested && !finished) n.notice.textContent = t("job.cancel_requested");
  if (job.status === "canceled") n.notice.textContent = t("job.canceled");

  // failure: the server's message (what went wrong, for this job) + what to do, in the interface language
  if (job.status === "failed") {
    const code = job.error?.code || "error";
    n.error.hidden = false;
    n.error.replaceChildren(
      el("h2", {}, t("job.failed")),
      el("p", { class: "error-message" }, richText(localize(job.error?.message, job.messages?.error)) || code),
      el("p", {}, el("strong", {}, `${t("job.what_to_do")}: `), has(`fix.${code}`) ? t(`fix.${code}`) : t("fix.default")),
      el("p", { class: "help" }, el("code", {}, code)));
  } else {
    n.error.hidden = true;
  }

  // media, in the order they appear: skeleton (after the pose stage), the live preview while denoising, then the
  // result (which replaces the preview) and the side-by-side
  const wanted = [];
  const previewing = Boolean(files["preview.gif"]) && !files["result.mp4"] && job.status === "running";
  if (previewing) wanted.push(["preview.gif"]);
  if (files["result.mp4"]) wanted.push(["result.mp4", "job.result", { autoplay: true }]);
  if (files["side_by_side.mp4"]) wanted.push(["side_by_side.mp4", "job.side_by_side", {}]);
  if (files["skeleton.mp4"]) wanted.push(["skeleton.mp4", "job.skeleton", { autoplay: !files["result.mp4"] }]);
  const keys = wanted.map(([key]) => key).join(",");
  if (n.mediaKeys !== keys) {
    n.mediaKeys = keys;
    n.media.replaceChildren(...wanted.map(([key, caption, opts]) => n.figures[key] || (n.figures[key] =
      key === "preview.gif" ? previewFigure() : figure(key, caption, files[key], opts))));
    // the first figure is the big one
    n.media.classList.toggle("has-result", Boolean(files["result.mp4"]));
  }
  if (previewing) refreshPreview(n, files["preview.gif"], job.step || 0, job.total_steps || 0);

  // downloads
  const available = DOWNLOADS.filter((name) => files[name]);
  n.downloadsBox.hidden = !available.length || (job.status !== "succeeded" && !files["skeleton.mp4"]);
  n.downloads.replaceChildren(...available.map((name) => el("li", {},
    el("a", { href: fileUrl(files[name], true), download: name, class: "button", dataset: { file: name } },
      t(`job.dl.${name}`)))));

  // facts
  setFacts(n.facts, [
    [t("job.prompt"), job.prompt],
    [t("job.english_prompt"), job.english_prompt],
    // the language's name in the interface language ("Vietnamese"), not the selector's own name ("Tiếng Việt")
    [t("job.language"), job.language ? (has(`lang.name.${job.language}`) ? t(`lang.name.${job.language}`) : job.language) : null],
    [t("job.input_kind"), job.input_kind ? (has(`job.input_kind.${job.input_kind}`) ? t(`job.input_kind.${job.input_kind}`) : job.input_kind) : null],
    [t("job.pose"), richText(localize(job.pose_summary, job.messages?.pose_summary))],
    [t("job.warnings"), richText((job.warnings || []).map((w, i) => localize(w, job.messages?.warnings?.[i])).join(" · "))],
    [t("job.created"), formatDate(job.created_at)],
    [t("job.finished"), formatDate(job.finished_at)],
  ]);
  showPoseChart(n, files["keypoints.json"]);
  showInputs(n, job);
  const params = job.params || {};
  setFacts(n.params, [
    ...Object.entries(params).map(([k, v]) => [k, String(v)]),
    [t("job.device"), [job.device, job.memory_preset].filter(Boolean).join(" / ")],
    ["demo", job.demo ? t("job.demo") : null],
  ]);
}

/** The model (its title) and the character photo the job used (a thumbnail, built once: polls do not reload it). */
function showInputs(n, job) {
  const photoUrl = job.input_files?.reference_image;
  if (photoUrl && !n.photo) {
    const img = el("img", { id: "job-photo", src: fileUrl(photoUrl), alt: t("job.photo_alt"), loading: "lazy" });
    n.photo = el("figure", { class: "photo-thumb" }, el("a", { href: fileUrl(photoUrl), target: "_blank" }, img),
      el("figcaption", {}, t("job.photo")));
  }
  const model = job.model ? el("p", { class: "job-model", id: "job-model" }, el("span", {}, `${t("job.model")}: `),
    el("strong", {}, modelTitle(catalog, job.model))) : null;
  n.inputs.replaceChildren(...[n.photo, model].filter(Boolean));
  n.inputs.hidden = !n.photo && !model;
  if (job.model && !catalog && !n.catalogAsked) {
    n.catalogAsked = true;
    listModels().then((answer) => { catalog = answer; if (view && view.nodes === n) showInputs(n, view.job); })
      .catch(() => { /* an older server: the model's name stands for its title */ });
  }
}

/** The pose report's picture, from keypoints.json once the pose stage wrote it (fetched once per job view). */
async function showPoseChart(n, url) {
  if (!url || n.poseChartUrl === url) return;
  n.poseChartUrl = url;
  try {
    const data = await request(url);
    if (view && view.nodes === n) n.poseChart.replaceChildren(poseChart(data?.part_status) || "");
  } catch (_) {
    n.poseChartUrl = null;  // try again on the next poll; the sentences above still say it all
  }
}

async function onCancel() {
  if (!view) return;
  // a running job loses its work: ask first (a queued one has none to lose)
  const job = view.job;
  if (job && job.status === "running" &&
      !window.confirm(t("job.confirm_cancel", { progress: `${Math.round((job.progress || 0) * 100)} %` }))) return;
  const button = view.nodes.cancel;
  button.disabled = true;
  try {
    update(await cancelJob(view.id));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) showTransient(err);
  }
  view.delay = POLL_MIN_MS;
  schedule(POLL_MIN_MS);
}

async function onDelete() {
  if (!view || !view.job) return;
  if (!window.confirm(t("history.confirm_delete", { prompt: view.job.prompt }))) return;
  try {
    await deleteJob(view.id);
    stopJob();
    onDeleted();
  } catch (err) {
    showTransient(err);
  }
}
