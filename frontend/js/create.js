// The Create screen: model + video (file, drag-and-drop or URL) + character photo (for the models that take one) +
// prompt + options -> POST /api/v1/jobs. Defaults and limits come from the server: the chosen model's parameters
// (GET /api/v1/models) over the OpenAPI document's (loadOptions), never from constants here.
import { ApiError, listLoras, listModels, loadOptions, submitJob } from "./api.js";
import { getLanguage, t } from "./i18n.js";
import { closestAllowed, defaultModel, findModel, installedModels, onRule, renderPicker, ruleExamples } from "./models.js";
import { checkPhoto, chosenPhoto, initPhoto, renderPhotoTexts, setPhotoLimits } from "./photo.js";
import { formatBytes, formatDuration, wireDropzone } from "./util.js";

const NUMBER_FIELDS = ["steps", "guidance_scale", "seed", "frames", "stride", "width", "height", "conditioning_scale"];
const LABEL_KEYS = {
  steps: "create.steps", guidance_scale: "create.guidance", seed: "create.seed", frames: "create.frames",
  stride: "create.stride", width: "create.width", height: "create.height", conditioning_scale: "create.conditioning",
};
// The fields a model may refuse (GET /api/v1/models: a field is offered only when the chosen model has it).
const MODEL_FIELDS = [...NUMBER_FIELDS, "scheduler", "input_type", "lang", "negative_prompt"];
const DROP_ZONES = { video: "dropzone", reference_image: "photo-dropzone" };
// What the backend accepts when its document cannot be read (it still checks everything itself).
const FALLBACK_EXTENSIONS = ["mp4", "mov", "avi", "mkv", "webm", "wmv", "m4v"];

const $ = (id) => document.getElementById(id);

let options = null;       // from loadOptions(): {fields, extensions, maxMb, maxSeconds}
let loras = null;         // from GET /api/v1/loras: {loras, max_per_job, weight}; null = none or unavailable
let optionsError = null;
let chosenFile = null;
let previewUrl = null;
let previewDuration = null;
let onCreated = () => {};
let catalog = null;       // from GET /api/v1/models: {default, families}; null = an older server (no picker)
let chosenModel = null;   // the chosen model's name (a variant)
const touched = new Set(); // the fields the user changed: a model switch keeps their values

function extensions() {
  return options?.extensions || FALLBACK_EXTENSIONS;
}

// --- errors next to fields ------------------------------------------------------------------------------------

function errorSlot(field) {
  return $(`${field}-error`);
}

export function clearErrors() {
  for (const node of document.querySelectorAll("#create-form .error")) node.textContent = "";
  for (const node of document.querySelectorAll("#create-form [aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const zone of Object.values(DROP_ZONES)) $(zone).classList.remove("invalid");
}

function showFieldError(field, message) {
  const slot = errorSlot(field);
  if (!slot || slot.id === "form-error") {
    $("form-error").textContent = message;
    return false;
  }
  slot.textContent = message;
  const input = $(field);
  if (input) input.setAttribute("aria-invalid", "true");
  if (DROP_ZONES[field]) $(DROP_ZONES[field]).classList.add("invalid");
  if (input && input.closest("details") && !input.closest("details").open) input.closest("details").open = true;
  return true;
}

function focusFirstError() {
  const first = document.querySelector("#create-form [aria-invalid='true']");
  if (first) first.focus();
}

/** Show an ApiError: each field it names next to that field, the rest above the button. */
function showApiError(err) {
  const entries = Object.entries(err.errors || {});
  if (err.network) {
    $("form-error").textContent = t("err.network", { reason: err.detail });
  } else if (entries.length) {
    // one field: the detail also carries the server's hint (what to do); several: each field's own message
    if (entries.length === 1) showFieldError(entries[0][0], err.detail || entries[0][1]);
    else for (const [field, message] of entries) showFieldError(field, message);
    if (!entries.every(([field]) => errorSlot(field) && field !== "form")) {
      if (!$("form-error").textContent) $("form-error").textContent = err.detail;
    }
  } else if (err.status === 413 || err.status === 415) {
    showFieldError(chosenFile ? "video" : "video_url", err.detail || err.title); // about the video, field or not
  } else {
    $("form-error").textContent = t("err.server", { status: err.status, detail: err.detail || err.title });
  }
  focusFirstError();
}

// --- the options from the server ------------------------------------------------------------------------------

function fillSelect(select, values, labelFor, selected) {
  const keep = select.value;
  select.replaceChildren(...values.map((v) => {
    const opt = document.createElement("option");
    opt.value = v;
    opt.textContent = labelFor(v);
    return opt;
  }));
  select.value = keep && values.includes(keep) ? keep : (selected ?? values[0]);
}

function label(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

// --- the chosen model ------------------------------------------------------------------------------------------

function chosenFamily() {
  return findModel(catalog, chosenModel)?.family || null;
}

/** The parameters' schemas as the chosen model takes them (the OpenAPI document's when no model is known). */
function activeFields() {
  const family = chosenFamily();
  return family ? { ...(options?.fields || {}), ...family.params } : (options?.fields || {});
}

function offered(name) {
  return !$(`field-${name}`).hidden;
}

/** Show the fields the chosen model takes (and the photo zone when it has that slot), with its limits. */
function applyModel() {
  const family = chosenFamily();
  const known = family ? family.params : (options?.fields || {});
  for (const name of MODEL_FIELDS) $(`field-${name}`).hidden = !(name in known);
  $("field-reference_image").hidden = !family?.capabilities?.slots?.includes("reference_image");
  applyLimits();
  renderOptions();
  checkFramesRule();
}

function pickModel(name) {
  chosenModel = name;
  clearErrors();
  applyModel();
}

let pickerKey = "";

/** The picker, rebuilt only when the models or the language change (not on a pick: the radio keeps its focus). */
function renderModels() {
  const models = installedModels(catalog);
  $("field-model").hidden = models.length < 2; // one installed model: nothing to choose
  const key = [getLanguage(), ...models.map((m) => m.variant.name)].join("|");
  if (key === pickerKey) return;
  pickerKey = key;
  renderPicker($("model-options"), catalog, chosenModel, pickModel);
}

/** The frames rule of the chosen model (e.g. 4k+1) and the frames field's bounds. */
function framesRule() {
  const family = chosenFamily();
  const rule = family?.limits?.frame_rule;
  const schema = activeFields().frames || {};
  return rule && rule.step > 1 ? { rule, lo: schema.minimum ?? 1, hi: schema.maximum ?? 1024 } : null;
}

/** A frames value off the rule is marked at the field, with the closest allowed value. */
function framesRuleError(raw) {
  const spec = framesRule();
  const value = Number(raw);
  if (!spec || raw === "" || !Number.isInteger(value) || value < spec.lo || value > spec.hi) return null;
  if (onRule(value, spec.rule)) return null;
  return t("err.frames_rule", { field: t("create.frames"), rule: spec.rule.text, value: raw,
    examples: ruleExamples(spec.rule, spec.lo, spec.hi), closest: closestAllowed(value, spec.rule, spec.lo, spec.hi) });
}

let framesRuleShown = false;

/** While typing (and after a model switch): mark a frames value off the rule, unmark it once it is on it. */
function checkFramesRule() {
  const input = $("frames");
  const message = offered("frames") ? framesRuleError(input.value.trim()) : null;
  if (message) {
    showFieldError("frames", message);
  } else if (framesRuleShown) {
    $("frames-error").textContent = "";
    input.removeAttribute("aria-invalid");
  }
  framesRuleShown = Boolean(message);
}

/** (Re)write the option lists and help texts in the current language. */
export function renderOptions() {
  const fields = activeFields();
  fillSelect($("lang"), fields.lang?.enum || ["auto", "vi", "en"], (v) => label(`create.lang.${v}`, v),
    fields.lang?.default);
  fillSelect($("scheduler"), fields.scheduler?.enum || ["ddim", "dpm++"],
    (v) => ({ ddim: "DDIM", "dpm++": "DPM-Solver++" }[v] || v), fields.scheduler?.default);
  fillSelect($("input_type"), fields.input_type?.enum || ["auto", "video", "skeleton"],
    (v) => label(`create.input_type.${v}`, v), fields.input_type?.default);
  for (const name of NUMBER_FIELDS) {
    const schema = fields[name];
    const help = $(`${name}-help`);
    if (!schema) { help.textContent = ""; continue; }
    const range = { min: schema.minimum ?? "", max: schema.maximum ?? "", def: schema.default ?? "" };
    help.textContent = schema.default !== undefined ? t("create.range", range) : `${range.min}–${range.max}`;
  }
  const spec = framesRule();
  if (spec) {
    $("frames-help").textContent = t("create.frames_rule", { min: spec.lo, max: spec.hi, rule: spec.rule.text,
      examples: ruleExamples(spec.rule, spec.lo, spec.hi), def: chosenFamily().limits.default_frames ?? "?" });
  }
  if (catalog) renderModels();
  renderPhotoTexts();
  const maxMb = options?.maxMb;
  $("video-accepts").textContent = t("create.accepts", {
    exts: extensions().map((e) => "." + e).join(", "), mb: maxMb ?? "?",
  });
  if (optionsError) $("form-error").textContent = t("create.options_unavailable");
  if (chosenFile) showFileInfo();
  renderLoras();
}

// --- style LoRAs (the picker shows only when the server has usable ones) --------------------------------------

function usableLoras() {
  // only those that fit the job's model (GET /api/v1/loras lists the models each fits; the server refuses others)
  const model = document.getElementById("model")?.value || options?.fields?.model?.default;
  return (loras?.loras || []).filter((l) => l.usable && (!model || !l.models || l.models.includes(model)))
    .map((l) => l.name);
}

/** One row per LoRA a job may use: a name (or none) and its weight. The first select is #loras (error focus). */
function renderLoras() {
  const family = chosenFamily();
  const names = family && !family.capabilities?.loras ? [] : usableLoras();
  $("field-loras").hidden = names.length === 0;
  if (!names.length) return;
  const weight = loras.weight;
  const rows = $("lora-rows");
  const count = Math.min(loras.max_per_job, names.length);
  while (rows.children.length < count) {
    const i = rows.children.length;
    const row = document.createElement("div");
    row.className = "lora-row";
    const select = document.createElement("select");
    select.id = i === 0 ? "loras" : `lora-${i}`;
    select.setAttribute("aria-describedby", "loras-help loras-error");
    const input = document.createElement("input");
    Object.assign(input, { id: `lora-${i}-weight`, type: "number", step: "0.05", inputMode: "decimal" });
    Object.assign(input, { min: weight.minimum, max: weight.maximum, value: weight.default });
    row.append(select, input);
    rows.append(row);
  }
  [...rows.children].forEach((row, i) => {
    const [select, input] = row.children;
    select.setAttribute("aria-label", t("create.lora_n", { n: i + 1 }));
    input.setAttribute("aria-label", t("create.lora_weight", { n: i + 1 }));
    fillSelect(select, ["", ...names], (v) => v || t("create.lora_none"), "");
  });
  $("loras-help").textContent = t("create.loras_help", { min: weight.minimum, max: weight.maximum });
}

/** [[name, weight text], ...] of the rows with a LoRA chosen. */
function chosenLoras() {
  return [...$("lora-rows").children].map((row) => [row.children[0].value, row.children[1].value.trim()])
    .filter(([name]) => name);
}

function checkLoras(fail) {
  const chosen = chosenLoras();
  const { minimum, maximum } = loras?.weight || {};
  for (const [, raw] of chosen) {
    const value = Number(raw);
    if (raw === "" || !Number.isFinite(value) || value < minimum || value > maximum) {
      fail("loras", t("err.number", { field: t("create.loras"), min: minimum, max: maximum, value: raw }));
      return;
    }
  }
  if (new Set(chosen.map(([name]) => name)).size < chosen.length) fail("loras", t("err.lora_twice"));
}

/** Bounds, steps and defaults of the chosen model on the inputs; a field the user changed keeps its value. */
function applyLimits() {
  const fields = activeFields();
  const spec = framesRule();
  for (const name of NUMBER_FIELDS) {
    const input = $(name);
    const schema = fields[name];
    if (!schema) continue;
    for (const attr of ["min", "max"]) {
      const value = schema[attr === "min" ? "minimum" : "maximum"];
      if (value !== undefined) input[attr] = value; else input.removeAttribute(attr);
    }
    if (name === "frames" && spec) input.step = spec.rule.step; // with min on the rule: the arrows go 1, 5, 9, …
    else if (schema.multipleOf) input.step = schema.multipleOf;
    else if (schema.type === "integer") input.step = 1;
    else input.removeAttribute("step");
    if (!touched.has(name)) input.value = schema.default ?? "";
  }
  const promptMax = fields.prompt?.maxLength;
  if (promptMax) $("prompt").maxLength = promptMax;
  if (fields.negative_prompt?.maxLength) $("negative_prompt").maxLength = fields.negative_prompt.maxLength;
  $("video").accept = ["video/*", ...extensions().map((e) => "." + e)].join(",");
  setPhotoLimits(fields.reference_image);
}

export async function reloadOptions() {
  try {
    options = await loadOptions();
    optionsError = null;
  } catch (err) {
    optionsError = err;
    console.warn("could not load the API options", err);
  }
  try {
    catalog = await listModels();
    if (!findModel(catalog, chosenModel)) chosenModel = defaultModel(catalog);
  } catch (err) {
    catalog = null; // an older server, or no key yet: the OpenAPI document's limits, no picker
    chosenModel = null;
  }
  try {
    loras = await listLoras();
  } catch (err) {
    loras = null; // an older server, or no key yet: no picker
  }
  if (options || catalog) applyModel(); else renderOptions();
}

// --- the video ------------------------------------------------------------------------------------------------

/** The client-side checks the backend would also make (same wording): extension allow-list, size limit. */
function checkFile(file) {
  const name = file.name || "";
  const dot = name.lastIndexOf(".");
  const ext = dot >= 0 ? name.slice(dot + 1).toLowerCase() : "";
  if (!extensions().includes(ext)) {
    return t("err.extension", { name, ext: ext || "?", exts: extensions().map((e) => "." + e).join(", ") });
  }
  const maxMb = options?.maxMb;
  if (maxMb && file.size > maxMb * 1024 * 1024) {
    return t("err.too_large", { size: formatBytes(file.size), mb: maxMb });
  }
  return null;
}

function showFileInfo() {
  const video = $("preview-video");
  const info = $("preview-info");
  if (video.videoWidth) {
    info.textContent = t("create.file_info", {
      name: chosenFile.name, size: formatBytes(chosenFile.size), duration: formatDuration(previewDuration),
      w: video.videoWidth, h: video.videoHeight,
    });
  } else {
    info.textContent = t("create.file_info_nodim", { name: chosenFile.name, size: formatBytes(chosenFile.size) });
  }
}

function clearVideo() {
  chosenFile = null;
  previewDuration = null;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  const video = $("preview-video");
  video.removeAttribute("src");
  video.load();
  $("preview").hidden = true;
  $("video").value = "";
  $("drop-text").textContent = t("create.drop");
}

function chooseFile(file) {
  clearErrors();
  clearVideo();
  const problem = checkFile(file);
  if (problem) {
    showFieldError("video", problem);
    return;
  }
  chosenFile = file;
  previewUrl = URL.createObjectURL(file);
  const video = $("preview-video");
  $("preview").hidden = false;
  $("preview-info").textContent = t("create.file_info_nodim", { name: file.name, size: formatBytes(file.size) });
  video.onloadedmetadata = () => {
    previewDuration = video.duration;
    showFileInfo();
    const max = options?.maxSeconds;
    if (max && Number.isFinite(video.duration) && video.duration > max) {
      showFieldError("video", t("err.too_long", { duration: formatDuration(video.duration), max: formatDuration(max) }));
    }
  };
  video.onerror = () => {
    $("preview-info").textContent = `${t("create.file_info_nodim", { name: file.name, size: formatBytes(file.size) })}. ${t("create.no_preview")}`;
  };
  video.src = previewUrl;
}

function setupDropzone() {
  wireDropzone($("dropzone"), $("video"), $("drop-text"), "create.drop", "create.drop_active", chooseFile);
  $("clear-video").addEventListener("click", () => { clearErrors(); clearVideo(); $("video").focus(); });
}

// --- submit ---------------------------------------------------------------------------------------------------

function checkForm() {
  let ok = true;
  const fail = (field, message) => { showFieldError(field, message); ok = false; };
  const prompt = $("prompt").value.trim();
  if (!prompt) fail("prompt", t("err.prompt_required"));
  const url = $("video_url").value.trim();
  if (!chosenFile && !url) fail("video", t("err.video_required"));
  if (chosenFile && url) fail("video_url", t("err.both_video"));
  if (url && !/^https?:\/\/\S+$/i.test(url)) fail("video_url", t("err.url"));
  if (chosenFile) {
    const problem = checkFile(chosenFile);
    if (problem) fail("video", problem);
  }
  const photo = offered("reference_image") ? chosenPhoto() : null;
  if (photo) {
    const problem = checkPhoto(photo);
    if (problem) fail("reference_image", problem);
  }
  const fields = activeFields();
  for (const name of NUMBER_FIELDS) {
    const raw = $(name).value.trim();
    const schema = fields[name];
    if (!raw || !schema || !offered(name)) continue;
    const value = Number(raw);
    const lo = schema.minimum ?? -Infinity;
    const hi = schema.maximum ?? Infinity;
    const label = t(LABEL_KEYS[name]);
    if (!Number.isFinite(value) || value < lo || value > hi || (schema.type === "integer" && !Number.isInteger(value))) {
      fail(name, t("err.number", { field: label, min: schema.minimum, max: schema.maximum, value: raw }));
    } else if (schema.multipleOf && value % schema.multipleOf) {
      fail(name, t("err.multiple", { field: label, m: schema.multipleOf, value: raw }));
    } else if (name === "frames" && framesRuleError(raw)) {
      fail(name, framesRuleError(raw));
    }
  }
  if (!$("field-loras").hidden) checkLoras(fail);
  return ok;
}

function buildForm() {
  const data = new FormData();
  if (chosenModel) data.set("model", chosenModel);
  data.set("prompt", $("prompt").value.trim());
  for (const name of ["lang", "scheduler", "input_type"]) if (offered(name)) data.set(name, $(name).value);
  for (const name of [...NUMBER_FIELDS, "negative_prompt"]) {
    if (!offered(name)) continue; // a field the chosen model refuses is not sent
    const value = $(name).value.trim();
    if (value) data.set(name, value); // empty = the server's default (seed: random)
  }
  const chosen = $("field-loras").hidden ? [] : chosenLoras();
  if (chosen.length) data.set("loras", chosen.map(([name, weight]) => `${name}:${weight}`).join(","));
  if (chosenFile) data.set("video", chosenFile, chosenFile.name);
  else data.set("video_url", $("video_url").value.trim());
  const photo = offered("reference_image") ? chosenPhoto() : null;
  if (photo) data.set("reference_image", photo, photo.name);
  return data;
}

async function onSubmit(ev) {
  ev.preventDefault();
  clearErrors();
  if (!checkForm()) {
    if (!$("form-error").textContent) $("form-error").textContent = t("create.fix_errors");
    focusFirstError();
    return;
  }
  const button = $("submit");
  const bar = $("upload-progress");
  const labelNode = $("upload-label");
  button.disabled = true;
  button.textContent = t("create.submitting");
  bar.hidden = !chosenFile;
  bar.value = 0;
  try {
    const job = await submitJob(buildForm(), (fraction) => {
      bar.value = fraction;
      labelNode.textContent = t("create.uploading", { pct: Math.round(fraction * 100) });
    });
    onCreated(job);
  } catch (err) {
    if (err instanceof ApiError) showApiError(err);
    else $("form-error").textContent = String(err);
  } finally {
    button.disabled = false;
    button.textContent = t("create.submit");
    bar.hidden = true;
    labelNode.textContent = "";
  }
}

/** Wire the form once; created(job) is called after a successful submit. */
export function initCreate(created) {
  onCreated = created;
  setupDropzone();
  initPhoto((message) => showFieldError("reference_image", message));
  for (const name of NUMBER_FIELDS) $(name).addEventListener("input", () => touched.add(name));
  $("frames").addEventListener("input", checkFramesRule);
  $("create-form").addEventListener("submit", onSubmit);
  $("video_url").addEventListener("input", () => { errorSlot("video_url").textContent = ""; });
  renderOptions();
  return reloadOptions();
}

/** After a job was created: keep the settings (seed etc., the model and its character photo) but start a fresh
 *  video + prompt. */
export function resetCreate() {
  clearErrors();
  clearVideo();
  $("video_url").value = "";
  $("prompt").value = "";
}
