// Small DOM and formatting helpers shared by the views.
import { getLanguage, t } from "./i18n.js";

/** el("a", {href: "#", class: "x"}, "text", child) -> element. Text is always set as text (never as HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A server text as nodes: its Markdown code spans (`python manage.py download`) as <code>, the rest as text. */
export function richText(text) {
  if (!text) return text;
  return String(text).split(/`([^`]+)`/).map((part, i) => (i % 2 ? el("code", {}, part) : part)).filter((p) => p !== "");
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return "?";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${new Intl.NumberFormat(getLanguage(), { maximumFractionDigits: i ? 1 : 0 }).format(n)} ${units[i]}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return t("time.s", { n: seconds < 10 ? Math.round(seconds * 10) / 10 : s });
  if (s < 3600) return t("time.m", { m: Math.floor(s / 60), s: s % 60 });
  return t("time.h", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(getLanguage() === "vi" ? "vi-VN" : "en-GB",
    { dateStyle: "medium", timeStyle: "short" }).format(date);
}

export function formatNumber(n) {
  return new Intl.NumberFormat(getLanguage()).format(n);
}

export const FINISHED = new Set(["succeeded", "failed", "canceled"]);
export const STAGES = ["translating", "extracting_pose", "generating", "encoding"]; // mirrors jobs/status.py

/**
 * A drop zone over a file input: the dragged-over look and text, and onFile(file) for a dropped or chosen file.
 * idleKey/activeKey: the i18n keys of its text at rest and while a file is dragged over it.
 */
export function wireDropzone(zone, input, textNode, idleKey, activeKey, onFile) {
  input.addEventListener("change", () => { if (input.files && input.files[0]) onFile(input.files[0]); });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (ev) => {
      ev.preventDefault();
      zone.classList.add("dragging");
      textNode.textContent = t(activeKey);
    });
  }
  const rest = () => { zone.classList.remove("dragging"); textNode.textContent = t(idleKey); };
  for (const type of ["dragleave", "dragend"]) zone.addEventListener(type, rest);
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    rest();
    const file = ev.dataTransfer?.files?.[0];
    if (file) onFile(file);
  });
}
