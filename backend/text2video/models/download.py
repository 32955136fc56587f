"""Fetch the real models into a models folder, verify every file, and record it in ``manifest.json``.

    from text2video.models.download import download
    download("models", parts=("diffusion", "pose"), fp16=True)

Steps (``download``):
1. plan: ask the servers (HEAD only) which file each slot resolves to and how big it is; files already recorded in
   the manifest with their size are skipped.
2. print the plan (``dry_run`` stops here: nothing is fetched, nothing is written).
3. check the free disk space against what the plan needs (before fetching anything).
4. fetch: Hub files with ``huggingface_hub.hf_hub_download`` (``HF_ENDPOINT`` and ``HF_TOKEN`` honoured; a dropped
   connection is resumed with an HTTP Range request inside the call); model-zoo zips with our own HTTP client
   (resumable across runs: the partial ``.part`` file stays in ``<models>/.downloads`` and the next attempt or run
   asks for the rest with ``Range``), then the ``.onnx`` is unpacked.
5. verify each file (see ``sources.py`` for what it is checked against); a mismatch deletes the file and fetches it
   once more, a second mismatch fails with a message naming the file, both hashes and the source.
6. record each verified file in the manifest as soon as it is verified.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..exceptions import InvalidInput, ServiceUnavailable, Text2VideoError
from . import manifest as manifest_mod
from . import sources
from .sources import HubFile, ZooFile

log = logging.getLogger(__name__)

DOWNLOADS_DIR = ".downloads"  # partial zoo zips, inside the models folder so the final rename stays on one disk
DISK_MARGIN_BYTES = 256 * 1024 * 1024  # head room on top of the plan (temporary files, manifest, filesystem slack)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


class DownloadError(Text2VideoError):
    """A model file could not be fetched or did not verify."""

    code = "download_failed"
    http_status = 502
    title = "Download failed"


@dataclass
class PlannedFile:
    part: str
    kind: str  # "hub" | "zoo"
    spec: HubFile | ZooFile
    dest: str  # path relative to the models root
    url: str
    size: int | None = None  # bytes to transfer
    size_known: bool = False  # True: from the server's answer; False: sources.py estimate
    action: str = "fetch"  # fetch | present | skip (optional file the server does not have)
    candidate: str | None = None  # hub: the repo path chosen
    etag: str | None = None  # hub: published hash (LFS sha256 or git blob sha1)
    commit: str | None = None  # hub: commit the revision resolved to
    note: str = ""

    @property
    def disk_bytes(self) -> int:
        size = self.size or 0
        return size * 2 if self.kind == "zoo" else size  # zoo: the zip and the unpacked .onnx coexist briefly


@dataclass
class Plan:
    root: Path
    items: list[PlannedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def to_fetch(self) -> list[PlannedFile]:
        return [i for i in self.items if i.action == "fetch"]

    @property
    def bytes_to_fetch(self) -> int:
        return sum(i.size or 0 for i in self.to_fetch)

    @property
    def bytes_needed(self) -> int:
        return sum(i.disk_bytes for i in self.to_fetch) + (DISK_MARGIN_BYTES if self.to_fetch else 0)

    @property
    def sizes_estimated(self) -> bool:
        return any(not i.size_known for i in self.to_fetch)

    def format(self) -> str:
        lines = [f"{'PART':<10} {'ACTION':<8} {'SIZE':>10}  FILE  <-  SOURCE"]
        for i in self.items:
            size = human(i.size) if i.size is not None else "?"
            if i.size is not None and not i.size_known:
                size = "~" + size
            lines.append(f"{i.part:<10} {i.action:<8} {size:>10}  {i.dest}  <-  {i.url}"
                         + (f"  ({i.note})" if i.note else ""))
        est = " (~ = estimated: the server could not be asked)" if self.sizes_estimated else ""
        lines.append(f"to fetch: {len(self.to_fetch)} files, {human(self.bytes_to_fetch)}{est}; "
                     f"already present: {sum(i.action == 'present' for i in self.items)}; "
                     f"disk needed: {human(self.bytes_needed)}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def human(n: int | float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def free_disk_bytes(path: str | Path) -> int:
    """Free bytes on the filesystem that holds ``path`` (or its nearest existing parent)."""
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


# --- 1. plan -----------------------------------------------------------------------------------------------------


def _hub_url(repo_id: str, filename: str, revision: str, endpoint: str | None) -> str:
    from huggingface_hub import hf_hub_url

    return hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)


def _hub_metadata(spec: HubFile, endpoint: str | None, token: str | None):
    """(candidate, metadata) of the first candidate the Hub has, (None, None) when it has none.

    Raises OSError-like errors from huggingface_hub when the Hub cannot be reached.
    """
    from huggingface_hub import get_hf_file_metadata
    from huggingface_hub.errors import RemoteEntryNotFoundError

    for candidate in spec.candidates:
        try:
            meta = get_hf_file_metadata(_hub_url(spec.repo_id, candidate, spec.revision, endpoint), token=token)
        except RemoteEntryNotFoundError:
            continue
        return candidate, meta
    return None, None


def _recorded(manifest: manifest_mod.Manifest, root: Path, paths: Iterable[str]) -> manifest_mod.FileRecord | None:
    for rel in paths:
        rec = manifest.files.get(rel)
        file = root / rel
        if rec is not None and file.is_file() and file.stat().st_size == rec.size:
            return rec
    return None


def plan(root: str | Path, parts: Iterable[str] = sources.PARTS, *, fp16: bool = False,
         pose_presets: Iterable[str] | None = None, endpoint: str | None = None, zoo_url: str | None = None,
         token: str | None = None, timeout: float = 15.0, catalog: sources.Catalog | None = None) -> Plan:
    """What a download would fetch, with sizes from HEAD requests (nothing is downloaded or written)."""
    import requests
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    root = Path(root)
    parts = tuple(parts)
    presets = tuple(pose_presets) if pose_presets is not None else sources.POSE_PRESET_NAMES
    catalog = catalog or sources.catalog(parts, fp16, presets)
    result = Plan(root=root)
    manifest = manifest_mod.load(root) if (root / "manifest.json").exists() else manifest_mod.Manifest(root=root)
    offline = False

    for spec in catalog.hub:
        # A recorded file counts only if it is the variant asked for (an fp32 file does not satisfy --fp16).
        wanted = [spec.dest(c) for c in spec.candidates
                  if (".fp16." in c) == fp16 or not any(".fp16." in x for x in spec.candidates)]
        rec = _recorded(manifest, root, wanted)
        if rec is not None:
            result.items.append(PlannedFile(spec.part, "hub", spec, rec.path, rec.source, rec.size, True, "present"))
            continue
        item = PlannedFile(spec.part, "hub", spec, spec.dest(spec.candidates[0]),
                           _hub_url(spec.repo_id, spec.candidates[0], spec.revision, endpoint), spec.approx_bytes)
        if not offline:
            try:
                candidate, meta = _hub_metadata(spec, endpoint, token)
            except (GatedRepoError, RepositoryNotFoundError) as exc:
                raise DownloadError(
                    f"the Hub refused {spec.repo_id}: {type(exc).__name__}", field="repo_id", value=spec.repo_id,
                    hint="Accept the model's licence on its Hub page and set HF_TOKEN to a token of that account "
                         "(or point HF_ENDPOINT at a mirror that has it).") from exc
            except Exception as exc:  # unreachable Hub (httpx, OS or HTTP 5xx errors): plan on estimates
                offline = True
                result.notes.append(f"the Hub could not be asked ({type(exc).__name__}: {exc}); "
                                    "sizes are estimates from sources.py")
            else:
                if candidate is None:
                    if spec.optional:
                        item.action, item.note = "skip", "optional, not on the server"
                        result.items.append(item)
                        continue
                    raise DownloadError(
                        f"none of {', '.join(spec.candidates)} exists in {spec.repo_id}@{spec.revision}",
                        field="repo_id", value=spec.repo_id,
                        hint="The repository changed; update text2video/models/sources.py or use a mirror "
                             "(HF_ENDPOINT) that has these files.")
                item.candidate = candidate
                item.dest = spec.dest(candidate)
                item.url = _hub_url(spec.repo_id, candidate, spec.revision, endpoint)
                item.etag = meta.etag
                item.commit = meta.commit_hash
                if meta.size is not None:
                    item.size, item.size_known = meta.size, True
        if item.candidate is None:
            item.candidate = spec.candidates[0]
        result.items.append(item)

    base = sources.zoo_base_url(zoo_url)
    zoo_offline = False
    for z in catalog.zoo:
        url = base + z.archive
        rec = _recorded(manifest, root, [z.dest])
        if rec is not None:
            result.items.append(PlannedFile(z.part, "zoo", z, z.dest, url, rec.size, True, "present"))
            continue
        item = PlannedFile(z.part, "zoo", z, z.dest, url, z.approx_bytes)
        if not zoo_offline:
            try:
                r = requests.head(url, allow_redirects=True, timeout=timeout)
                if r.status_code == 404:
                    raise DownloadError(f"{url} does not exist (404)", field="model_zoo_url", value=base,
                                        hint=f"Check {sources.ZOO_URL_ENV} (now {base}).")
                if r.ok and r.headers.get("Content-Length"):
                    item.size, item.size_known = int(r.headers["Content-Length"]), True
            except requests.RequestException as exc:
                zoo_offline = True
                result.notes.append(f"the model zoo could not be asked ({type(exc).__name__}); "
                                    "sizes are estimates from sources.py")
        result.items.append(item)
    return result


# --- 3. disk space -----------------------------------------------------------------------------------------------


def check_disk(p: Plan, free_bytes: int | None = None) -> None:
    """Refuse before fetching anything when the plan does not fit (``free_bytes`` overrides the measured figure)."""
    free = free_disk_bytes(p.root) if free_bytes is None else free_bytes
    if p.to_fetch and free < p.bytes_needed:
        raise ServiceUnavailable(
            f"not enough disk space in {p.root}: {human(p.bytes_needed)} needed, {human(free)} free",
            field="models_dir", value=str(p.root),
            hint="Free some space, fetch fewer parts (--only diffusion,pose,prompt), use --fp16 (halves the "
                 "Stable Diffusion weights), or download to a bigger disk with --models DIR.")


# --- 4./5. fetch and verify ----------------------------------------------------------------------------------------


def _check_hub_file(path: Path, item: PlannedFile) -> tuple[bool, str, str]:
    """(ok, how it was verified, sha256 of the file)."""
    sha256 = manifest_mod.sha256_file(path)
    spec = item.spec
    assert isinstance(spec, HubFile)
    pinned = spec.sha256.get(item.candidate or "")
    if pinned:
        return sha256 == pinned, "pinned", sha256
    etag = (item.etag or "").lower()
    if _SHA256.match(etag):
        return sha256 == etag, "hub-lfs-sha256", sha256
    if _SHA1.match(etag):
        return manifest_mod.git_blob_sha1(path) == etag, "hub-git-sha1", sha256
    return True, "first-download", sha256


def _fetch_hub(root: Path, item: PlannedFile, endpoint: str | None, token: str | None) -> manifest_mod.FileRecord:
    from huggingface_hub import hf_hub_download

    spec = item.spec
    assert isinstance(spec, HubFile)
    if item.etag is None:  # planned offline: ask now
        try:
            candidate, meta = _hub_metadata(spec, endpoint, token)
        except Exception as exc:  # unreachable Hub: one line with the fix, not a traceback
            raise DownloadError(f"cannot reach the Hub for {spec.repo_id} ({type(exc).__name__}: {exc})",
                                field="HF_ENDPOINT", value=os.environ.get("HF_ENDPOINT", "https://huggingface.co"),
                                hint="Check the network (or set HF_ENDPOINT to a reachable mirror), then run the "
                                     "command again: finished files are kept.") from exc
        if candidate is None:
            raise DownloadError(f"none of {', '.join(spec.candidates)} exists in {spec.repo_id}",
                                field="repo_id", value=spec.repo_id)
        item.candidate, item.etag, item.commit, item.size = candidate, meta.etag, meta.commit_hash, meta.size
        item.dest = spec.dest(candidate)
        item.url = _hub_url(spec.repo_id, candidate, spec.revision, endpoint)
    local_dir = root / spec.dest_dir
    for attempt in (1, 2):
        try:
            path = Path(hf_hub_download(spec.repo_id, item.candidate, revision=spec.revision, local_dir=local_dir,
                                        endpoint=endpoint, token=token, force_download=attempt > 1))
        except Exception as exc:  # network/HTTP errors from huggingface_hub: one line with the fix, not a traceback
            raise DownloadError(f"{item.url}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                                field="file", value=item.dest,
                                hint="Check the network, HF_ENDPOINT and HF_TOKEN, then run the command again "
                                     "(finished files are kept).") from exc
        ok, how, sha256 = _check_hub_file(path, item)
        if ok:
            return manifest_mod.FileRecord(path=item.dest, size=path.stat().st_size, sha256=sha256, source=item.url,
                                           part=item.part, slot=spec.slot, verified=how)
        path.unlink(missing_ok=True)
        expected = spec.sha256.get(item.candidate or "") or item.etag
        if attempt == 1:
            log.warning("%s: checksum mismatch (got %s, expected %s); deleted, fetching it again", item.dest,
                        sha256[:16], expected)
        else:
            raise DownloadError(
                f"{item.dest} failed verification twice (SHA-256 {sha256}, expected {expected}) from {item.url}",
                field="file", value=item.dest,
                hint="The file was deleted. Retry later, or check HF_ENDPOINT points at a faithful mirror.")
    raise AssertionError("unreachable")


def _http_download(url: str, part_path: Path, expected_size: int | None, *, retries: int = 5,
                   backoff_s: float = 1.0, progress: bool = True, label: str = "") -> None:
    """GET ``url`` into ``part_path``, resuming from what it already holds (HTTP Range) after any interruption."""
    import requests
    import urllib3
    from tqdm import tqdm

    part_path.parent.mkdir(parents=True, exist_ok=True)
    failures = 0
    while True:
        have = part_path.stat().st_size if part_path.exists() else 0
        if expected_size is not None and have == expected_size:
            return
        if expected_size is not None and have > expected_size:
            part_path.unlink()
            have = 0
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=(15, 60)) as r:
                if r.status_code == 416:  # our partial file no longer matches the server's: start over
                    part_path.unlink(missing_ok=True)
                    continue
                if r.status_code == 404:
                    raise DownloadError(f"{url} does not exist (404)", field="url", value=url,
                                        hint=f"Check {sources.ZOO_URL_ENV}.")
                r.raise_for_status()
                if have and r.status_code != 206:  # the server ignored Range: the body is the whole file
                    have = 0
                if have:
                    log.info("%s: resuming at byte %d", label or url, have)
                total = expected_size or (int(r.headers["Content-Length"]) + have
                                          if r.headers.get("Content-Length") else None)
                with open(part_path, "ab" if have else "wb") as fh, \
                        tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                             desc=label or Path(url).name, disable=not progress, leave=False) as bar:
                    # read1 hands over whatever has arrived, so a dropped connection loses no received byte
                    # (iter_content would drop the partly filled chunk and the resume would start earlier).
                    while chunk := r.raw.read1(1024 * 1024):
                        fh.write(chunk)
                        bar.update(len(chunk))
            size = part_path.stat().st_size
            if expected_size is None or size == expected_size:
                return
            raise requests.exceptions.ChunkedEncodingError(f"got {size} of {expected_size} bytes")
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                urllib3.exceptions.HTTPError) as exc:
            failures += 1
            got = part_path.stat().st_size if part_path.exists() else 0
            if failures > retries:
                raise DownloadError(
                    f"{url}: transfer failed {failures} time(s) ({type(exc).__name__}: {exc})", field="url", value=url,
                    hint=f"Run the same command again: it resumes from the {human(got)} already in {part_path}.",
                ) from exc
            log.warning("%s: transfer interrupted at %d bytes (%s); resuming", label or url, got, exc)
            time.sleep(backoff_s * failures)
        except requests.HTTPError as exc:
            raise DownloadError(f"{url}: HTTP {exc.response.status_code}", field="url", value=url,
                                hint=f"Check the network and {sources.ZOO_URL_ENV}.") from exc


def _extract_onnx(zip_path: Path, out: Path) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        members = [m for m in zf.namelist() if m.endswith(".onnx")]
        if len(members) > 1:
            members = [m for m in members if m.endswith("end2end.onnx")] or members
        if len(members) != 1:
            raise DownloadError(f"{zip_path.name} holds {len(members)} .onnx files, expected 1",
                                field="archive", value=zip_path.name, hint="The zoo archive changed; report it.")
        out.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(members[0]) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 4 * 1024 * 1024)


def _fetch_zoo(root: Path, item: PlannedFile, previous: manifest_mod.FileRecord | None, *, retries: int,
               backoff_s: float, progress: bool) -> manifest_mod.FileRecord:
    spec = item.spec
    assert isinstance(spec, ZooFile)
    zip_path = root / DOWNLOADS_DIR / spec.archive
    part_path = zip_path.with_name(zip_path.name + ".part")
    dest = root / spec.dest
    tmp = dest.with_name(dest.name + ".tmp")
    # Without a published hash the one recorded by an earlier download of the same URL is the reference.
    expected, how = spec.sha256, "pinned"
    if not expected and previous is not None and previous.source == item.url:
        expected, how = previous.sha256, "first-download"
    for attempt in (1, 2):
        if not zip_path.exists():
            _http_download(item.url, part_path, item.size if item.size_known else None, retries=retries,
                           backoff_s=backoff_s, progress=progress, label=spec.archive)
            os.replace(part_path, zip_path)
        try:
            _extract_onnx(zip_path, tmp)
        except zipfile.BadZipFile:
            sha256 = "not a zip file"
        else:
            sha256 = manifest_mod.sha256_file(tmp)
        if sha256 != "not a zip file" and (expected is None or sha256 == expected):
            os.replace(tmp, dest)
            zip_path.unlink(missing_ok=True)
            return manifest_mod.FileRecord(path=spec.dest, size=dest.stat().st_size, sha256=sha256,
                                           source=item.url, part=item.part, slot=spec.slot,
                                           verified=how if expected else "first-download")
        tmp.unlink(missing_ok=True)
        zip_path.unlink(missing_ok=True)
        if attempt == 1:
            log.warning("%s: checksum mismatch (got %s, expected %s); deleted, fetching it again", spec.dest,
                        sha256[:16], expected)
        else:
            raise DownloadError(
                f"{spec.dest} failed verification twice (SHA-256 {sha256}, expected {expected} [{how}]) "
                f"from {item.url}", field="file", value=spec.dest,
                hint="The file was deleted. Retry later; if the zoo really changed the file, remove its entry from "
                     "manifest.json (unpinned files) or update sources.py (pinned).")
    raise AssertionError("unreachable")


# --- the whole thing ---------------------------------------------------------------------------------------------


def download(root: str | Path, parts: Iterable[str] = sources.PARTS, *, fp16: bool = False,
             pose_presets: Iterable[str] | None = None, dry_run: bool = False, endpoint: str | None = None,
             zoo_url: str | None = None, token: str | None = None, free_bytes: int | None = None,
             retries: int = 5, backoff_s: float = 1.0, progress: bool = True,
             out: Callable[[str], None] = print, catalog: sources.Catalog | None = None) -> Plan:
    """Plan, check space, fetch, verify and record (see the module docstring). Returns the plan."""
    root = Path(root)
    if str(root) == "demo":
        raise InvalidInput("`download` fetches real weights; 'demo' is the built-in random demo folder",
                           field="models", value="demo", hint="Pass --models DIR (default: ./models).")
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"{root} is not a folder", field="models", value=str(root),
                           hint="Pass --models DIR pointing at a folder (it is created if absent).")
    if (root / "DEMO").exists():
        raise InvalidInput(f"{root} is a demo folder (random weights)", field="models", value=str(root),
                           hint="Download real weights into another folder: --models DIR.")
    parts = tuple(parts)
    p = plan(root, parts, fp16=fp16, pose_presets=pose_presets, endpoint=endpoint, zoo_url=zoo_url, token=token,
             catalog=catalog)
    free = free_disk_bytes(root) if free_bytes is None else free_bytes
    out(f"models folder: {root.resolve()}  (free: {human(free)})")
    out(p.format())
    if dry_run:
        out("dry run: nothing was fetched")
        return p
    check_disk(p, free_bytes)
    root.mkdir(parents=True, exist_ok=True)
    todo = p.to_fetch
    manifest = manifest_mod.load(root)
    commits: dict[str, dict[str, str]] = {}
    for n, item in enumerate(todo, 1):
        out(f"[{n}/{len(todo)}] {item.dest} ({human(item.size)})")
        if item.kind == "hub":
            rec = _fetch_hub(root, item, endpoint, token)
            if item.commit:
                commits.setdefault(item.part, {})[item.spec.repo_id] = item.commit  # type: ignore[union-attr]
        else:
            rec = _fetch_zoo(root, item, manifest.files.get(item.dest), retries=retries, backoff_s=backoff_s,
                             progress=progress)
        # The other variant of the same file (fp32 <-> fp16) is superseded: loaders must not find two.
        for old in [r for r in manifest.files.values() if r.slot == rec.slot and r.path != rec.path]:
            (root / old.path).unlink(missing_ok=True)
            out(f"    removed the superseded {old.path}")
        manifest = manifest_mod.record(root, rec)
        out(f"    ok: {rec.verified} sha256={rec.sha256[:16]}...")
    # Per-part facts loaders need: the commit each repo resolved to, and the SD weights variant.
    manifest = manifest_mod.load(root)
    for part in parts:
        info = manifest.parts.setdefault(part, {})
        if commits.get(part):
            info.setdefault("revisions", {}).update(commits[part])
        info["complete"] = not manifest_mod.missing(root, [part], pose_presets)
    if "diffusion" in parts:
        manifest.parts["diffusion"]["variant"] = manifest_mod.sd_variant(root)
    manifest_mod.save(manifest)
    if not any((root / DOWNLOADS_DIR).glob("*.part")):
        shutil.rmtree(root / DOWNLOADS_DIR, ignore_errors=True)
    # Every non-optional file of the catalog this run used must now be recorded and present.
    absent = [i.dest for i in p.items if i.action != "skip" and _recorded(
        manifest, root, [i.dest] + [i.spec.dest(c) for c in getattr(i.spec, "candidates", ())]) is None]
    if absent:
        raise DownloadError(f"still missing after download: {', '.join(absent)}", field="models", value=str(root),
                            hint="Run the command again; see the messages above for the cause.")
    out(f"done: {len(todo)} fetched, every file of {', '.join(parts)} present and verified "
        f"(manifest: {root / 'manifest.json'})")
    return p
