// The only module that talks to the backend (/api/v1). Backend URL and API key come from the settings panel
// (localStorage), so the same files work served by the backend (same origin) or from any static host.
import { localize } from "./i18n.js";

const BACKEND_KEY = "t2v.backend";
const APIKEY_KEY = "t2v.apiKey";

/**
 * An error from the API: RFC 9457 problem details (status, code, detail, errors {field: message}); detail and
 * errors in the interface language when the server sent their code + params (problem.messages).
 */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || (problem.type ? String(problem.type).split("/").pop() : "error");
    this.title = problem.title || "";
    const messages = problem.messages || {};
    this.detail = localize(problem.detail || "", messages.detail);
    this.errors = Object.fromEntries(Object.entries(problem.errors || {}).map(
      ([field, message]) => [field, localize(message, (messages.errors || {})[field])]));
    this.network = Boolean(problem.network);
  }
}

function storageGet(key) {
  try { return localStorage.getItem(key) || ""; } catch (_) { return ""; }
}

function storageSet(key, value) {
  try {
    if (value) localStorage.setItem(key, value); else localStorage.removeItem(key);
  } catch (_) { /* private mode: the value lasts for this page only */ }
}

export function getBackend() {
  return storageGet(BACKEND_KEY).replace(/\/+$/, "");
}

export function getApiKey() {
  return storageGet(APIKEY_KEY);
}

export function saveSettings({ backend, apiKey }) {
  storageSet(BACKEND_KEY, (backend || "").trim().replace(/\/+$/, ""));
  storageSet(APIKEY_KEY, (apiKey || "").trim());
}

/** Absolute URL for an API path (paths in job JSON are server-relative: "/api/v1/jobs/..."). */
export function apiUrl(path) {
  if (/^https?:\/\//i.test(path)) return path;
  return getBackend() + path;
}

/** True for a backend on an ngrok free domain reached from another origin (a static host). */
function crossOriginNgrok() {
  const backend = getBackend();
  if (!backend) return false;
  try {
    const url = new URL(backend);
    return url.origin !== location.origin && /(^|\.)ngrok(-free)?\.(app|dev|io)$/i.test(url.hostname);
  } catch (_) {
    return false;
  }
}

function authHeaders() {
  const headers = {};
  const key = getApiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  // ngrok's free domains answer browsers with a warning page instead of the API unless this header is sent
  if (crossOriginNgrok()) headers["ngrok-skip-browser-warning"] = "1";
  return headers;
}

async function readProblem(resp) {
  const type = resp.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try { return await resp.json(); } catch (_) { /* fall through */ }
  }
  const text = await resp.text().catch(() => "");
  return { title: resp.statusText, detail: text.slice(0, 300) || `HTTP ${resp.status}` };
}

/** fetch() an API path; JSON back, or ApiError (problem details; status 0 = network failure). */
export async function request(path, { method = "GET", body, headers = {}, signal } = {}) {
  let resp;
  const init = { method, headers: { Accept: "application/json", ...authHeaders(), ...headers }, signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  try {
    resp = await fetch(apiUrl(path), init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { code: "network", detail: err.message || String(err), network: true });
  }
  if (!resp.ok) throw new ApiError(resp.status, await readProblem(resp));
  if (resp.status === 204) return null;
  return resp.json();
}

export const health = () => request("/api/v1/health");
export const listLoras = () => request("/api/v1/loras");
export const getJob = (id) => request(`/api/v1/jobs/${encodeURIComponent(id)}`);
export const cancelJob = (id) => request(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
export const deleteJob = (id) => request(`/api/v1/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });

export function listJobs({ page = 1, perPage = 12, status = "" } = {}) {
  const q = new URLSearchParams({ page: String(page), per_page: String(perPage) });
  if (status) q.set("status", status);
  return request(`/api/v1/jobs?${q}`);
}

/**
 * POST /api/v1/jobs as multipart (XMLHttpRequest: fetch cannot report upload progress).
 * onProgress(fraction) while the body is sent. Resolves with the job; rejects with ApiError.
 */
export function submitJob(formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", apiUrl("/api/v1/jobs"));
    xhr.setRequestHeader("Accept", "application/json");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable && onProgress) onProgress(ev.loaded / ev.total); };
    xhr.onerror = () => reject(new ApiError(0, { code: "network", detail: "the connection failed", network: true }));
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && data) resolve(data);
      else reject(new ApiError(xhr.status, data || { detail: xhr.responseText.slice(0, 300) || `HTTP ${xhr.status}` }));
    };
    xhr.send(formData);
  });
}

/**
 * The job-create parameters as the server publishes them (OpenAPI): {fields: {name: schema}, extensions, maxMb,
 * maxSeconds}. The frontend reads defaults and limits from here instead of repeating them.
 */
export async function loadOptions() {
  const doc = await request("/api/v1/openapi.json");
  const content = doc.paths["/api/v1/jobs"].post.requestBody.content;
  const schema = content["multipart/form-data"].schema;
  const fields = schema.properties;
  const video = fields.video || {};
  // The upload limits: machine-readable x-* members when the server publishes them, else read from the `video`
  // field's description ("(mp4, mov, ...; at most 500 MB, 600 s, 120 fps)").
  const desc = video.description || "";
  const extMatch = desc.match(/\(([a-z0-9]+(?:,\s*[a-z0-9]+)*);/i);
  const mbMatch = desc.match(/at most\s+([\d.]+)\s*MB/i);
  const secMatch = desc.match(/([\d.]+)\s*s\b/);
  return {
    fields,
    required: schema.required || [],
    extensions: video["x-extensions"] ?? (extMatch ? extMatch[1].split(/,\s*/).map((e) => e.toLowerCase()) : null),
    maxMb: video["x-max-upload-mb"] ?? (mbMatch ? Number(mbMatch[1]) : null),
    maxSeconds: video["x-max-seconds"] ?? (secMatch ? Number(secMatch[1]) : null),
  };
}

/** A file URL from the job JSON, for <video src> / <a href>; download=true adds ?download=1 (attachment). */
export function fileUrl(url, download = false) {
  const full = apiUrl(url);
  if (!download) return full;
  return full + (full.includes("?") ? "&" : "?") + "download=1";
}

/** GET /api/v1/models: {default, families: [{name, title, installed, variants, capabilities, limits, params, …}]}. */
export const listModels = () => request("/api/v1/models");
