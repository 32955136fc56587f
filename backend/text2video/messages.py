"""Texts a person reads, as a stable ``code`` + ``params`` and their English wording: the one table of them.

The server speaks English; a client in another language (the web UI's Vietnamese) renders the same code and params
with its own catalogue (``frontend/js/i18n.js`` holds a Vietnamese template for every code here; a test keeps the
two tables in step). :class:`Message` *is* the English ``str``, so code that builds, joins or stores plain texts
keeps working, and it also carries its ``items`` (``[{"code", "params"}]``) for the job store and problem+json.
A param that is itself a Message is kept as a nested ``{"code", "params"}`` (a body part, a list of frames), so
no English word hides inside a param.
"""

from __future__ import annotations

from typing import Any, Iterable

TEMPLATES: dict[str, str] = {
    # --- pose report (pose/report.py) -------------------------------------------------------------------------
    "pose.no_frames": "Pose: no frames.",
    "pose.demo": "DEMO pose models (fixed templates, not trained): these skeletons are meaningless.",
    "pose.stats": "{frames} frames at {fps} fps; subject detected in {seen} of {frames}; {detected} % of keypoints "
                  "detected, {repaired} % repaired, {missing} % missing (not drawn).",
    "pose.absent": "Person not detected in {frames} (short gaps filled from the neighbouring frames, longer ones "
                   "left empty).",
    "pose.part_repaired": "{part} repaired in {frames}.",  # a sentence: the part names are capitalised
    "pose.part_missing": "{part} missing in {frames}.",
    "pose.runtime": "Pose estimated with ONNX Runtime on {provider} ({preset} preset).",
    "pose.frame": "frame {list}",
    "pose.frames": "frames {list}",
    "pose.frames_more": "frames {list} and {more} more",
    "pose.ranges": "{list}",
    "pose.ranges_more": "{list} and {more} more",
    "pose.part.head": "Head",
    "pose.part.left_arm": "Left arm",
    "pose.part.right_arm": "Right arm",
    "pose.part.left_leg": "Left leg",
    "pose.part.right_leg": "Right leg",
    "pose.part.left_hand": "Left hand",
    "pose.part.right_hand": "Right hand",
    "pose.part.face": "Face",
    "pose.demo_random": "DEMO pose models (random): the skeleton does not follow the person.",
    # --- warnings ----------------------------------------------------------------------------------------------
    "demo.weights": "DEMO weights (random, tiny): the output is noise, not a real video. Run `python manage.py "
                    "download` for real models.",
    "prompt.demo_translation": "DEMO translation model (random, tiny): the English text is nonsense. Run `python "
                               "manage.py download --only prompt` for the real envit5-translation.",
    "prompt.empty_translation": "The translation came back empty; the original text is used as is.",
    "prompt.clip_truncated": "{field} is {tokens} CLIP tokens, over the {max} the model reads: these words are "
                             "ignored: {words}",
    "preset.cpu_slow": "CPU generation of the real model takes minutes per denoising step (hours per video at 50 "
                       "steps); use a CUDA GPU, or fewer --steps and --frames for a try-out.",
    "preset.low_memory": "preset {preset} is estimated to need ~{need} GB but only {free} GB is free: it may run out "
                         "of memory. Lower --frames, --width/--height, or free the GPU.",
    "compile.first_job": "The first job compiled the video model for this machine in {seconds} s (--compile); later "
                         "jobs of the same frames and size reuse it.",
    "compile.eager_fallback": "--compile is not available here, the video model ran uncompiled: {reason}",
    "video.gif_preview": "result.gif is a preview with 1 frame in {every} of the {frames}; result.mp4 has them all",
    "lora.distilled_defaults": "{lora} is a step-distillation LoRA ({kind}): the job runs at {values}, what it was "
                               "made for, as the request did not set them (set steps / guidance_scale to choose).",
    "job.retrying": "attempt {attempt}: {reason}; retrying",
    "job.recovered": "recovered: the retry succeeded",
    # --- job failures (jobs/tasks.py, jobs/store.py) -----------------------------------------------------------
    "job.timeout": "the job ran longer than {seconds} s and was stopped. Use fewer frames or steps, or raise "
                   "TEXT2VIDEO_JOB_TIMEOUT_S.",
    "job.out_of_memory": "The GPU ran out of memory. Try again with fewer frames, a smaller width/height, or start "
                         "the worker with a lower memory preset (--memory low). ({detail})",
    "job.internal_error": "{error}. This is a bug; the worker log has the traceback.",
    "job.worker_lost": "{reason} after {attempts} attempt. If this repeats, use a smaller memory preset "
                       "(--memory low), fewer frames or a smaller size.",
    "job.worker_lost_many": "{reason} after {attempts} attempts. If this repeats, use a smaller memory preset "
                            "(--memory low), fewer frames or a smaller size.",
    "job.exit": "worker lost (exit code {code}, possibly out of memory)",
    "job.exit_signal": "worker lost (exit code {code} = {signal}, possibly out of memory)",
    "job.exit_unknown": "worker lost (exit code unknown, possibly out of memory or the machine stopped)",
    # --- errors: the specific ones a web UI user meets -----------------------------------------------------------
    # api/schemas.py: one code per kind of bad field value, and its hint
    "field.integer": "{field} must be a whole number, not {value}",
    "field.boolean": "{field} must be true or false, not {value}",
    "field.number": "{field} must be a number, not {value}",
    "field.finite": "{field} must be a finite number, not {value}",
    "field.text": "{field} must be text, not {value}",
    "field.between": "{field} must be between {min} and {max}, not {value}",
    "field.at_least": "{field} must be at least {min}, not {value}",
    "field.at_most": "{field} must be at most {max}, not {value}",
    "field.multiple": "{field} must be a multiple of {multiple}, not {value}",
    "field.enum": "{field} must be one of {choices}, not {value}",
    "field.too_long": "{field} is {value} characters long, over the limit of {max}",
    "hint.number": "Send a number such as {example}.",
    "hint.boolean": "Send true or false.",
    "hint.text": "Send it as a string.",
    "hint.between": "Pick a value between {min} and {max}.",
    "hint.at_least": "Pick a value at least {min}.",
    "hint.at_most": "Pick a value at most {max}.",
    "hint.multiple": "Use {lower} or {upper}.",
    "hint.enum": "Use one of: {choices}.",
    "hint.shorter": "Use a shorter value.",
    "hint.frames_over_limit": "Raise the stride (fewer frames per second of source: output fps = source fps / "
                              "stride) or trim the video; an operator can raise TEXT2VIDEO_MAX_OUTPUT_FRAMES (setting "
                              "max_output_frames).",
    "error.no_person_any": "No person was found in any of the {frames} sampled frames (0-{last}, {start}-{end} s)",
    "hint.no_person_any": "Use a video where one person is clearly visible, or a ready-made skeleton video.",
    "error.no_person_few": "The person was found in only {seen} of {frames} sampled frames; missing in sampled "
                           "frames {missing}",
    "hint.no_person_few": "Trim the video to the part where the person is in view, or use a ready-made skeleton "
                          "video.",
    "error.too_few_frames_of": "The video gives only {available} frames with stride {stride} ({total} frames in "
                               "all); {frames} were asked for",
    "hint.too_few_frames_of": "Ask for at most {available} frames, lower the stride, or use a longer video.",
    "error.too_few_frames": "The video gives only {available} frames with stride {stride}; {frames} were asked for",
    "hint.too_few_frames": "Ask for fewer frames, lower the stride, or use a longer video.",
    # request.py: a LoRA made for another model
    "error.lora_other_family": "{file} is a {fits} LoRA; {model} takes {takes} LoRAs",
    "hint.lora_other_family": "Leave {name} out, choose a LoRA made for {model}, or use it with {models}.",
    "error.lora_other_size": "{file} was made for {made_for} (its layers are {width} wide); {model}'s are {expected}",
    "hint.lora_other_size": "Use a LoRA trained on {model}, or leave {name} out.",
    "video.empty": "The file '{name}' is empty (0 bytes).",
    "hint.attach_again": "Check that the file plays on your device, then attach it again.",
    "video.not_video": "'{name}' is not a video: its content is not in a video container this server reads.",
    "video.no_stream": "'{name}' has no video stream (audio only, or a truncated file).",
    "video.undecodable": "'{name}' could not be decoded: its video data is damaged or in a codec this server lacks.",
    "video.no_frame": "'{name}' contains no decodable video frame.",
    "hint.video_file": "Use a video file: {types}.",
    "video.too_many_pixels": "The video is {width}x{height} ({pixels} pixels), over the limit of {max} pixels.",
    "hint.too_many_pixels": "Upload a smaller video (for example 1080p) or raise TEXT2VIDEO_MAX_VIDEO_PIXELS.",
    "video.too_fast": "The video runs at {fps} fps, over the limit of {max} fps.",
    "hint.too_fast": "Re-encode it at a lower frame rate or raise TEXT2VIDEO_MAX_VIDEO_FPS.",
    "video.too_long": "The video lasts {seconds} s, over the limit of {max} s.",
    "hint.too_long": "Trim it or raise TEXT2VIDEO_MAX_VIDEO_SECONDS.",
    "error.prompt_required": "prompt is required: describe the character and the scene, e.g. \"a girl dancing on "
                             "a mountain\"",
    "error.not_utf8": "{field} is not UTF-8 text: some of its bytes are not UTF-8 (they would turn into �)",
    "hint.utf8": "Send {field} encoded as UTF-8 (the encoding of browsers and of curl on a UTF-8 terminal); a "
                 "legacy encoding such as Windows-1258 or Latin-1 sends other bytes.",
    "error.json_not_utf8": "The JSON body is not UTF-8 (byte {position} is not valid UTF-8).",
    "error.json_invalid": "The JSON body is not valid JSON: {reason} (line {line}, column {column}).",
    "error.json_not_object": "The JSON body is not a JSON object (it starts with {start}).",
    "hint.json_object": "Send a UTF-8 JSON object such as {example}.",
    # netguard.py: why a URL is refused (video_url, callback_url)
    "url.refused": "{field} {url} was refused: {reason}",
    "url.address_blocked": "the address {address} is not allowed: {reason}",
    "url.resolves_blocked": "{host} resolves to {address}, which is not allowed: {reason}",
    "url.blocked.ipv4_mapped": "it is an IPv4-mapped IPv6 address (of {embedded})",
    "url.blocked.sixtofour": "it is a 6to4 address (embedding {embedded})",
    "url.blocked.teredo": "it is a Teredo address (embedding an IPv4 address)",
    "url.blocked.nat64": "it is a NAT64 address (embedding an IPv4 address)",
    "url.blocked.zone_id": "it carries an IPv6 zone id",
    "url.blocked.unspecified": "it is the unspecified address",
    "url.blocked.loopback": "it is a loopback address (this machine)",
    "url.blocked.link_local": "it is a link-local address (e.g. the cloud metadata service 169.254.169.254)",
    "url.blocked.multicast": "it is a multicast address",
    "url.blocked.cgnat": "it is a carrier-grade NAT address (100.64.0.0/10)",
    "url.blocked.reserved": "it is a reserved address",
    "url.blocked.private": "it is a private network address",
    "url.blocked.site_local": "it is a site-local address",
    "url.blocked.not_global": "it is not a public internet address",
    "hint.url_video": "Give a public http(s) URL of the video file.",
    "hint.url_callback": "Give a public http(s) URL of your webhook receiver (it is sent a POST when the job "
                         "finishes).",
    "hint.url_public": "Give a public http(s) URL.",
    # --- errors: one per kind, for every raise site without its own code (params: field, value) ------------------
    "error.invalid_input": "The value {value} of {field} is not valid.",
    "error.invalid_field": "{field} is not valid.",
    "error.invalid_request": "The request has invalid values.",
    "error.bad_request": "The request could not be read.",
    "error.unsupported_media": "The video cannot be read: it is not a supported video file.",
    "error.payload_too_large": "The upload is larger than the server's limit.",
    "error.no_person": "No person was found in the video.",
    "error.not_found": "Not found.",
    "error.conflict": "The job is not in a state that allows this.",
    "error.unauthorized": "An API key is needed, or the one given is not valid.",
    "error.forbidden": "Not allowed.",
    "error.method_not_allowed": "This method is not allowed here.",
    "error.rate_limited": "Too many jobs at once; wait for one to finish.",
    "error.unavailable": "The server cannot take work right now (queue unreachable or disk full); retry later.",
    "error.models_missing": "The server's models are missing; the operator must download them.",
    "error.device_error": "The worker's device (GPU) is not usable.",
    "error.out_of_memory": "The worker ran out of memory.",
    "error.canceled": "Canceled by request.",
    "error.worker_lost": "The worker stopped in the middle of the job.",
    "error.error": "The server hit an unexpected error; it has been logged.",
}


class Message(str):
    """The English text of one or more coded messages; ``items`` are their ``{"code", "params"}``."""

    items: tuple[dict[str, Any], ...]

    def __new__(cls, code: str, /, **params: Any) -> Message:
        text = TEMPLATES[code].format(**params)
        return cls.with_items(text, [{"code": code, "params": {k: _plain(v) for k, v in params.items()}}])

    @classmethod
    def with_items(cls, text: str, items: Iterable[dict[str, Any]]) -> Message:
        """``text`` (as it is) carrying ``items``: for an English text worded more precisely than its code's
        template, e.g. a raise site's own sentence behind the generic code of its error kind."""
        self = str.__new__(cls, text)
        self.items = tuple(items)
        return self

    @classmethod
    def join(cls, parts: Iterable[str], sep: str = " ") -> Message:
        """The parts joined; a plain-text part becomes an item without a code (shown as it is, in English)."""
        parts = list(parts)
        items = [item for p in parts for item in (p.items if isinstance(p, Message) else [{"code": None, "text": p}])]
        return cls.with_items(sep.join(parts), items)

    def __reduce__(self):  # pickle/copy keep the items (str would rebuild it from the text alone)
        return Message.with_items, (str(self), self.items)


def items_of(text: Any) -> list[dict[str, Any]] | None:
    """The code + params behind ``text``, or None for a plain (English-only) text."""
    return list(text.items) if isinstance(text, Message) else None


def _plain(value: Any) -> Any:
    if isinstance(value, Message):
        return value.items[0] if len(value.items) == 1 else {"code": None, "text": str(value)}
    return value


__all__ = ["TEMPLATES", "Message", "items_of"]
