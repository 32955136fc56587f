// The pose report as a picture (job page): one row per body part (head, arms, legs, hands, face), the sampled frames
// along x, detected / repaired / missing in three colours. Drawn from keypoints.json's `part_status` — the same data
// as the report's sentences, which stay for curl and the CLI. Hover (or tap) a stretch for its frames and times.
import { localize, t } from "./i18n.js";
import { el } from "./util.js";

const STATUS = { d: "detected", r: "repaired", m: "missing" };

/** Runs of one letter in a status string: [{letter, start, end}] (end inclusive). */
export function statusRuns(status) {
  const runs = [];
  for (let i = 0; i < status.length; i++) {
    const last = runs[runs.length - 1];
    if (last && last.letter === status[i]) last.end = i;
    else runs.push({ letter: status[i], start: i, end: i });
  }
  return runs;
}

function partName(row) {
  const name = localize(row.part, [{ code: row.code, params: {} }]);
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function runTitle(name, run, timeline) {
  const frames = timeline.frames || [];
  const times = timeline.times || [];
  const first = frames[run.start] ?? run.start;
  const last = frames[run.end] ?? run.end;
  const range = first === last ? String(first) : `${first}\u2013${last}`;
  const t0 = times[run.start], t1 = times[run.end];
  const seconds = Number.isFinite(t0) && Number.isFinite(t1) ? ` (${t0.toFixed(1)}\u2013${t1.toFixed(1)} s)` : "";
  return t("job.pose_chart.run", { part: name, status: t(`job.pose_chart.${STATUS[run.letter]}`), frames: range })
    + seconds;
}

/** A <figure> drawing `timeline` (keypoints.json `part_status`), or null when it has no rows. */
export function poseChart(timeline) {
  const rows = timeline && Array.isArray(timeline.rows) ? timeline.rows : [];
  const count = rows.length ? rows[0].status.length : 0;
  if (!count) return null;
  const readout = el("p", { class: "pose-chart-readout", "aria-live": "polite" });
  const show = (text) => { readout.textContent = text; };
  const table = el("div", { class: "pose-chart-rows", role: "list" }, rows.map((row) => {
    const name = partName(row);
    const bar = el("div", { class: "pose-chart-bar" }, statusRuns(row.status).map((run) => {
      const title = runTitle(name, run, timeline);
      return el("span", {
        class: `pose-run pose-${STATUS[run.letter]}`, title, tabindex: "0", role: "img", "aria-label": title,
        style: `flex-grow: ${run.end - run.start + 1}`, dataset: { start: run.start, end: run.end, status: run.letter },
        onclick: () => show(title), onfocus: () => show(title), onmouseenter: () => show(title),
      });
    }));
    return el("div", { class: "pose-chart-row", role: "listitem", dataset: { part: row.part } },
      el("span", { class: "pose-chart-label" }, name), bar);
  }));
  const legend = el("p", { class: "pose-chart-legend" }, ["detected", "repaired", "missing"].map((s) =>
    el("span", {}, el("i", { class: `pose-swatch pose-${s}` }), " ", t(`job.pose_chart.${s}`))));
  return el("figure", { class: "pose-chart", id: "pose-chart" },
    el("figcaption", {}, t("job.pose_chart", { frames: count })), table, legend, readout);
}
