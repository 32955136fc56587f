// The character photo on the Create screen (for the models whose slots include `reference_image`): a PNG, JPEG or
// WebP by drag-and-drop or choosing, a preview, remove. Its limits come from the server's OpenAPI document.
import { t } from "./i18n.js";
import { formatBytes, wireDropzone } from "./util.js";

const FALLBACK_EXTENSIONS = ["png", "jpg", "jpeg", "webp"];  // when the server's document cannot be read
const $ = (id) => document.getElementById(id);

let limits = { extensions: FALLBACK_EXTENSIONS, maxMb: null };
let photo = null;
let photoUrl = null;
let onError = () => {};

/** The upload limits from the `reference_image` schema (x-extensions, x-max-upload-mb). */
export function setPhotoLimits(schema) {
  limits = { extensions: schema?.["x-extensions"] || FALLBACK_EXTENSIONS, maxMb: schema?.["x-max-upload-mb"] ?? null };
  $("reference_image").accept = ["image/png", "image/jpeg", "image/webp", ...limits.extensions.map((e) => "." + e)]
    .join(",");
  renderPhotoTexts();
}

export function renderPhotoTexts() {
  $("photo-accepts").textContent = t("create.accepts", {
    exts: limits.extensions.map((e) => "." + e).join(", "), mb: limits.maxMb ?? "?",
  });
  if (photo) showInfo();
}

export function chosenPhoto() {
  return photo;
}

/** The client-side checks the server also makes: the type by extension, the size limit. */
export function checkPhoto(file) {
  const name = file.name || "";
  const dot = name.lastIndexOf(".");
  const ext = dot >= 0 ? name.slice(dot + 1).toLowerCase() : "";
  if (!limits.extensions.includes(ext)) {
    return t("err.photo_type", { name, ext: ext || "?", exts: limits.extensions.map((e) => "." + e).join(", ") });
  }
  if (limits.maxMb && file.size > limits.maxMb * 1024 * 1024) {
    return t("err.photo_too_large", { size: formatBytes(file.size), mb: limits.maxMb });
  }
  return null;
}

function showInfo() {
  const img = $("photo-img");
  const base = { name: photo.name, size: formatBytes(photo.size) };
  $("photo-info").textContent = img.naturalWidth
    ? t("create.photo_info", { ...base, w: img.naturalWidth, h: img.naturalHeight })
    : t("create.file_info_nodim", base);
}

export function clearPhoto() {
  photo = null;
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = null;
  $("photo-img").removeAttribute("src");
  $("photo-preview").hidden = true;
  $("photo-dropzone").hidden = false;
  $("reference_image").value = "";
  $("photo-drop-text").textContent = t("create.photo_drop");
}

function choosePhoto(file) {
  clearPhoto();
  $("reference_image-error").textContent = "";
  $("photo-dropzone").classList.remove("invalid");
  const problem = checkPhoto(file);
  if (problem) {
    onError(problem);
    return;
  }
  photo = file;
  photoUrl = URL.createObjectURL(file);
  const img = $("photo-img");
  img.onload = showInfo;
  img.onerror = () => { $("photo-info").textContent = `${t("create.file_info_nodim", { name: file.name, size: formatBytes(file.size) })}. ${t("create.no_preview")}`; };
  img.src = photoUrl;
  $("photo-preview").hidden = false;
  $("photo-dropzone").hidden = true; // the preview takes its place; "Remove photo" brings it back
  showInfo();
}

/** Wire the zone once; showError(message) marks the field. */
export function initPhoto(showError) {
  onError = showError;
  wireDropzone($("photo-dropzone"), $("reference_image"), $("photo-drop-text"), "create.photo_drop",
    "create.drop_active", choosePhoto);
  $("clear-photo").addEventListener("click", () => {
    $("reference_image-error").textContent = "";
    clearPhoto();
    $("reference_image").focus();
  });
}
