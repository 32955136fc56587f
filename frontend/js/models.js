// The model picker on the Create screen: the installed models (GET /api/v1/models), each with what it is good for
// and the GPU memory it needs. The chosen model's parameters (bounds, defaults, frame rule, the fields it refuses)
// are what the form offers; nothing here repeats a model's numbers.
import { getLanguage, modelDescription, t } from "./i18n.js";
import { el, formatNumber } from "./util.js";

/** [{variant, family}] of the installed models, in the server's order. */
export function installedModels(catalog) {
  return (catalog?.families || []).flatMap((family) =>
    family.variants.filter((v) => v.installed).map((variant) => ({ variant, family })));
}

/** The model a request that names none gets (the server's default: a variant, or a family's first variant). */
export function defaultModel(catalog) {
  const models = installedModels(catalog);
  const wanted = catalog?.default;
  const hit = models.find((m) => m.variant.name === wanted) || models.find((m) => m.family.name === wanted);
  return (hit || models[0])?.variant.name ?? null;
}

export function findModel(catalog, name) {
  return installedModels(catalog).find((m) => m.variant.name === name) || null;
}

/** The title of a model by its name (a job's `model`), or the name itself when the catalog does not know it. */
export function modelTitle(catalog, name) {
  for (const family of catalog?.families || []) {
    const variant = family.variants.find((v) => v.name === name);
    if (variant) return variant.title || name;
  }
  return name;
}

// --- the frame rule (frames = step*k + offset, e.g. 4k+1) -------------------------------------------------------

export function onRule(value, rule) {
  return !rule || rule.step <= 1 || (((value - rule.offset) % rule.step) + rule.step) % rule.step === 0;
}

function firstAllowed(lo, rule) {
  return lo + ((((rule.offset - lo) % rule.step) + rule.step) % rule.step);
}

function lastAllowed(hi, rule) {
  return hi - ((((hi - rule.offset) % rule.step) + rule.step) % rule.step);
}

/** The allowed count closest to value, within [lo, hi]: the lower one on a tie, as the server suggests. */
export function closestAllowed(value, rule, lo, hi) {
  const k = Math.ceil((value - rule.offset) / rule.step - 0.5);
  return Math.min(lastAllowed(hi, rule), Math.max(firstAllowed(lo, rule), k * rule.step + rule.offset));
}

/** "5, 9, 13, …, 81": the first allowed counts from the smallest sensible one and the largest. */
export function ruleExamples(rule, lo, hi) {
  const first = Math.max(firstAllowed(lo, rule), rule.step + rule.offset);
  const shown = [first, first + rule.step, first + 2 * rule.step].filter((v) => v <= hi);
  const last = lastAllowed(hi, rule);
  return last > shown[shown.length - 1] ? `${shown.join(", ")}, …, ${last}` : shown.join(", ");
}

// --- the picker -----------------------------------------------------------------------------------------------

function vramLine(gb) {
  return Number.isFinite(gb) ? t("create.model_vram", { gb: formatNumber(Math.round(gb)) }) : "";
}

/** One radio card per installed model in `container`; onChange(name) when the user picks one. */
export function renderPicker(container, catalog, selected, onChange) {
  const fallback = defaultModel(catalog);
  container.replaceChildren(...installedModels(catalog).map(({ variant }) => {
    const id = `model-${variant.name.replace(/[^\w-]/g, "_")}`; // "wan-vace-1.3b": no dot in an id used by CSS
    const radio = el("input", { type: "radio", name: "model", value: variant.name, id, "aria-describedby": `${id}-desc` });
    radio.checked = variant.name === selected;
    radio.addEventListener("change", () => { if (radio.checked) onChange(variant.name); });
    return el("label", { class: "model-card", for: radio.id, dataset: { model: variant.name } },
      radio,
      el("span", { class: "model-title" }, variant.title || variant.name,
        variant.name === fallback ? el("span", { class: "model-default" }, ` ${t("create.model_default")}`) : null),
      el("span", { class: "model-desc", id: `${id}-desc`, lang: getLanguage() },
        el("span", { class: "model-about" }, modelDescription(variant.name, variant.description)),
        el("span", { class: "model-vram" }, vramLine(variant.vram_gb))));
  }));
}
