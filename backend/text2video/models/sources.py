"""What `manage.py download` fetches, from where, and what each file must hash to.

Three parts (``--only``):

- ``diffusion``: Stable Diffusion v1-4 in diffusers format from ``CompVis/stable-diffusion-v1-4`` (only the files the
  pipeline loads: no safety checker, no feature extractor, no EMA/ckpt files), and the Follow-Your-Pose weights from
  ``YueMafighting/FollowYourPose_v1`` (the repository the authors' README and Colab notebook point to): the
  ``followyourpose_checkpoint-1000`` model weights (not ``optimizer.bin``: training state only) and
  ``pose_encoder.pth``.
- ``prompt``: ``VietAI/envit5-translation`` (transformers T5 folder).
- ``pose``: YOLOX + RTMPose ONNX exports from the OpenMMLab model zoo (``onnx_sdk`` zips, the same ones rtmlib uses);
  the single ``.onnx`` inside each zip is unpacked to the name ``layout.py`` gives it. The ``wholebody`` preset's two
  files come from the Hub instead (``yzd-v/DWPose``, the files DWPose's own annotator and VACE's load: the Megvii
  YOLOX-L ONNX and ``dw-ll_ucoco_384.onnx``) and are fetched with the others unless ``--pose-presets`` names fewer.

Where a file has several acceptable names (``candidates``) the first one the server has wins: safetensors before
pickled ``.bin``, and the fp16 variant first when ``--fp16`` is asked.

Hashes. Every Hub file is checked against the hash the Hub publishes for it: LFS files against the SHA-256 in the
``X-Linked-Etag`` header, small git files against their git blob SHA-1 (the ``ETag``). Where a SHA-256 was found in
public records it is pinned below as well (``sha256``) and a mismatch with it fails even if the server agrees with
itself. Model-zoo zips come with no published hash: the two ``balanced`` ONNX files are pinned to values that several
independent public projects recorded for the same URLs; the ``accurate`` ones are recorded on first download
(``verified: "first-download"`` in the manifest) and checked against that record afterwards.

Sizes (``approx_bytes``) are used for the disk-space check and the dry run only when the server cannot be asked; the
real sizes come from the servers' HEAD answers.

Base URLs: the Hub honours ``HF_ENDPOINT`` (and ``HF_TOKEN``); the zoo base is ``TEXT2VIDEO_MODEL_ZOO_URL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from . import layout

PARTS = ("diffusion", "prompt", "pose")
POSE_PRESET_NAMES = tuple(layout.POSE_PRESETS)  # what a download fetches unless told fewer presets

ZOO_URL_ENV = "TEXT2VIDEO_MODEL_ZOO_URL"
DEFAULT_ZOO_URL = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/onnx_sdk/"

SD_REPO = "CompVis/stable-diffusion-v1-4"
FYP_REPO = "YueMafighting/FollowYourPose_v1"
DWPOSE_REPO = "yzd-v/DWPose"
DWPOSE_REVISION = "f7c16a3d45ad3783db41471848c80fbc281cabac"  # "support all dwpose models": the onnx files' commit
TRANSLATION_REPO = "VietAI/envit5-translation"
# Branch names, resolved to a commit at download time; the commit is recorded in the manifest.
DEFAULT_REVISION = "main"

MB = 1024 * 1024


def zoo_base_url(override: str | None = None) -> str:
    base = override or os.environ.get(ZOO_URL_ENV) or DEFAULT_ZOO_URL
    return base if base.endswith("/") else base + "/"


@dataclass(frozen=True)
class HubFile:
    """One file of a Hub repository, stored under ``<models>/<dest_dir>/<name as in the repo>``."""

    part: str
    repo_id: str
    candidates: tuple[str, ...]  # paths in the repo, first found wins
    dest_dir: str  # relative to the models root (the repo's local_dir)
    approx_bytes: int
    optional: bool = False  # absent on the server = fine (e.g. tokenizer.json of a sentencepiece model)
    sha256: dict[str, str] = field(default_factory=dict)  # candidate -> pinned SHA-256
    revision: str = DEFAULT_REVISION
    preset: str | None = None  # pose files: fetched only when this pose preset is asked for

    @property
    def slot(self) -> str:
        """Stable name of this file whatever candidate is chosen: the first non-fp16 candidate's destination."""
        plain = [c for c in self.candidates if ".fp16." not in c]
        return self.dest(plain[0] if plain else self.candidates[0])

    def dest(self, candidate: str) -> str:
        return f"{self.dest_dir}/{candidate}"


@dataclass(frozen=True)
class ZooFile:
    """One ONNX model inside a model-zoo zip, unpacked to ``<models>/<dest>``."""

    part: str
    archive: str  # file name under the zoo base URL
    dest: str  # relative to the models root, as layout.POSE_PRESETS names it
    preset: str
    approx_bytes: int  # of the zip (the .onnx inside is about the same size: ONNX weights do not compress)
    sha256: str | None = None  # pinned SHA-256 of the unpacked .onnx

    @property
    def slot(self) -> str:
        return self.dest


def _weights(base: str, fp16: bool) -> tuple[str, ...]:
    """``unet/diffusion_pytorch_model`` -> candidate file names, safetensors first, fp16 variant first if asked."""
    plain = (f"{base}.safetensors", f"{base}.bin")
    if fp16:
        return (f"{base}.fp16.safetensors", f"{base}.fp16.bin") + plain
    return plain


def _text_encoder_weights(fp16: bool) -> tuple[str, ...]:
    # Always the fp32 file (transformers names it model.*/pytorch_model.*): a CLIPTextModel loader only finds the
    # fp16 variant when told variant="fp16", and it would save just 246 MB. It is cast to fp16 at load time.
    return ("text_encoder/model.safetensors", "text_encoder/pytorch_model.bin")


def hub_files(parts: tuple[str, ...] = PARTS, fp16: bool = False) -> list[HubFile]:
    files: list[HubFile] = []
    if "diffusion" in parts:
        sd = layout.SD_DIR
        half = 2 if fp16 else 1
        files += [
            HubFile("diffusion", SD_REPO, ("model_index.json",), sd, 600),
            HubFile("diffusion", SD_REPO, ("scheduler/scheduler_config.json",), sd, 400),
            HubFile("diffusion", SD_REPO, ("tokenizer/tokenizer_config.json",), sd, 800),
            HubFile("diffusion", SD_REPO, ("tokenizer/vocab.json",), sd, 1_100_000),
            HubFile("diffusion", SD_REPO, ("tokenizer/merges.txt",), sd, 530_000),
            HubFile("diffusion", SD_REPO, ("tokenizer/special_tokens_map.json",), sd, 500),
            HubFile("diffusion", SD_REPO, ("text_encoder/config.json",), sd, 600),
            HubFile("diffusion", SD_REPO, _text_encoder_weights(fp16), sd, 492 * MB),
            HubFile("diffusion", SD_REPO, ("vae/config.json",), sd, 600),
            HubFile("diffusion", SD_REPO, _weights("vae/diffusion_pytorch_model", fp16), sd, 335 * MB // half),
            HubFile("diffusion", SD_REPO, ("unet/config.json",), sd, 800),
            HubFile("diffusion", SD_REPO, _weights("unet/diffusion_pytorch_model", fp16), sd, 3438 * MB // half),
            # The fine-tuned UNet3D (about 998 M parameters in fp32, as saved by accelerate) and the pose adapter.
            HubFile("diffusion", FYP_REPO, ("followyourpose_checkpoint-1000/model.safetensors",
                                            "followyourpose_checkpoint-1000/pytorch_model.bin"),
                    layout.FYP_DIR, 3990 * MB),
            HubFile("diffusion", FYP_REPO, ("pose_encoder.pth",), layout.FYP_DIR, 300 * MB),
        ]
    if "prompt" in parts:
        tr = layout.TRANSLATION_DIR
        files += [
            HubFile("prompt", TRANSLATION_REPO, ("config.json",), tr, 1_500),
            HubFile("prompt", TRANSLATION_REPO, ("model.safetensors", "pytorch_model.bin"), tr, 1100 * MB),
            HubFile("prompt", TRANSLATION_REPO, ("spiece.model",), tr, 800_000),
            HubFile("prompt", TRANSLATION_REPO, ("tokenizer_config.json",), tr, 2_000, optional=True),
            HubFile("prompt", TRANSLATION_REPO, ("special_tokens_map.json",), tr, 2_000, optional=True),
            HubFile("prompt", TRANSLATION_REPO, ("tokenizer.json",), tr, 2_400_000, optional=True),
            HubFile("prompt", TRANSLATION_REPO, ("generation_config.json",), tr, 200, optional=True),
        ]
    return files


# SHA-256 of the unpacked .onnx, as recorded by several independent public projects for these exact zoo URLs
# (byte sizes 101,400,344 and 54,330,655). OpenMMLab itself publishes no hash for the onnx_sdk zips; the 8 hex
# digits in their names are the prefix of the SHA-256 of the PyTorch checkpoint they were exported from.
_YOLOX_M_SHA256 = "3dea6513388889f0fff4b77bf7a26013600321b9eb9ceb0e9a400a82572f5f23"
_RTMPOSE_M_SHA256 = "5c0a4bf67953e6d2ac43ce15e77dc9d5d354ae18430a47d2c5963a7bc5683e3c"

# DWPose on the Hub: SHA-256 and sizes from the LFS pointers of commit f7c16a3 (the Hub checks them as well); the
# same values are recorded by independent projects, and yolox_l.onnx is byte for byte Megvii's YOLOX 0.1.1rc0 export.
_DWPOSE_POSE = layout.POSE_PRESETS["wholebody"]["pose"]
_DWPOSE_DETECTOR = layout.POSE_PRESETS["wholebody"]["detector"]
HUB_POSE_FILES: dict[str, tuple[HubFile, HubFile]] = {
    "wholebody": (
        HubFile("pose", DWPOSE_REPO, (_DWPOSE_DETECTOR.split("/", 1)[1],), layout.POSE_DIR, 216_746_733,
                sha256={"yolox_l.onnx": "7860ae79de6c89a3c1eb72ae9a2756c0ccfbe04b7791bb5880afabd97855a411"},
                revision=DWPOSE_REVISION, preset="wholebody"),
        HubFile("pose", DWPOSE_REPO, (_DWPOSE_POSE.split("/", 1)[1],), layout.POSE_DIR, 134_399_116,
                sha256={"dw-ll_ucoco_384.onnx": "724f4ff2439ed61afb86fb8a1951ec39c6220682803b4a8bd4f598cd913b1843"},
                revision=DWPOSE_REVISION, preset="wholebody"),
    ),
}

ZOO_FILES: dict[str, tuple[ZooFile, ZooFile]] = {
    "balanced": (
        ZooFile("pose", "yolox_m_8xb8-300e_humanart-c2c7a14a.zip", layout.POSE_PRESETS["balanced"]["detector"],
                "balanced", 94 * MB, _YOLOX_M_SHA256),
        ZooFile("pose", "rtmpose-m_simcc-body7_pt-body7_420e-256x192-e48f03d0_20230504.zip",
                layout.POSE_PRESETS["balanced"]["pose"], "balanced", 51 * MB, _RTMPOSE_M_SHA256),
    ),
    "accurate": (
        ZooFile("pose", "yolox_x_8xb8-300e_humanart-a39d44ed.zip", layout.POSE_PRESETS["accurate"]["detector"],
                "accurate", 360 * MB),
        ZooFile("pose", "rtmpose-x_simcc-body7_pt-body7_700e-384x288-71d7b7e9_20230629.zip",
                layout.POSE_PRESETS["accurate"]["pose"], "accurate", 190 * MB),
    ),
}


def check_pose_presets(pose_presets: tuple[str, ...]) -> None:
    """InvalidInput naming the first preset that layout.POSE_PRESETS does not declare."""
    unknown = [p for p in pose_presets if p not in layout.POSE_PRESETS]
    if unknown:
        from ..exceptions import InvalidInput

        raise InvalidInput(f"unknown pose preset {unknown[0]!r}", field="pose_presets", value=unknown[0],
                           hint=f"Use one or more of: {', '.join(layout.POSE_PRESETS)}.")


def zoo_files(parts: tuple[str, ...] = PARTS, pose_presets: tuple[str, ...] = POSE_PRESET_NAMES) -> list[ZooFile]:
    if "pose" not in parts:
        return []
    check_pose_presets(pose_presets)
    return [f for preset in pose_presets for f in ZOO_FILES.get(preset, ())]


def hub_pose_files(parts: tuple[str, ...] = PARTS, pose_presets: tuple[str, ...] = POSE_PRESET_NAMES) -> list[HubFile]:
    """The Hub-hosted pose files of ``pose_presets`` (the wholebody preset's)."""
    if "pose" not in parts:
        return []
    check_pose_presets(pose_presets)
    return [f for preset in pose_presets for f in HUB_POSE_FILES.get(preset, ())]


@dataclass(frozen=True)
class Catalog:
    """Everything one download fetches. Tests build one with their own pinned hashes (``with_zoo_hashes``)."""

    hub: tuple[HubFile, ...]
    zoo: tuple[ZooFile, ...]

    def with_zoo_hashes(self, hashes: dict[str, str | None]) -> "Catalog":
        """A copy whose zoo files (by ``dest``) are pinned to ``hashes`` instead."""
        return Catalog(self.hub, tuple(replace(z, sha256=hashes.get(z.dest, z.sha256)) for z in self.zoo))


def catalog(parts: tuple[str, ...] = PARTS, fp16: bool = False,
            pose_presets: tuple[str, ...] = POSE_PRESET_NAMES) -> Catalog:
    return Catalog(tuple(hub_files(parts, fp16)) + tuple(hub_pose_files(parts, pose_presets)),
                   tuple(zoo_files(parts, pose_presets)))


def parse_parts(value: str | None) -> tuple[str, ...]:
    """``"diffusion,pose"`` -> ``("diffusion", "pose")``; None/"" -> all parts; unknown names -> InvalidInput."""
    if not value:
        return PARTS
    names = tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    unknown = [p for p in names if p not in PARTS]
    if unknown or not names:
        from ..exceptions import InvalidInput

        raise InvalidInput(f"unknown part {unknown[0] if unknown else value!r} in --only", field="only", value=value,
                           hint=f"Use a comma-separated subset of: {', '.join(PARTS)}.")
    return names
