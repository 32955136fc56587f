"""One request contract: every parameter of text2video.request walked through its edges gets the same verdict from
HTTP (POST /api/v1/jobs), the CLI (`manage.py generate` flags through its own request builder) and Python
(GenerationRequest.validate). The edges come from the declarations, so a new parameter is walked too.

Each verdict is the set of fields refused (empty = accepted); nothing here runs a model.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import settings_of
from text2video.cli import build_parser
from text2video.cli.generate import build_request
from text2video.exceptions import InvalidInput
from text2video.request import REQUEST_PARAMS, GenerationRequest, Param
from text2video.settings import Settings

SETTINGS = Settings.load({}, environ={})
PROMPT = "a girl dancing on a mountain"
# Values other fields need for an edge to be judged alone (the overlap must stay below the window; the most frames
# the video gives: every frame of the contract video, see contract_video).
CONTEXT = {"window_overlap": {"window": SETTINGS.max_output_frames}, "frames": {"stride": 1}}
NOT_TEXT = 5  # a JSON number where text belongs: only HTTP (JSON) and Python can send it
LORA_NAMES = ["a", "b", "c", "d", "e"]  # installed in the HTTP test's models folder


def _numeric_edges(p: Param) -> list[tuple[str, Any, bool]]:
    lo, hi = p.resolve("minimum", SETTINGS), p.resolve("maximum", SETTINGS)
    step = 1 if p.type == "integer" else 0.01
    edges = [("just below min", lo - step, False), ("min", lo, True), ("max", hi, True),
             ("just above max", hi + step, False), ("wrong type", "abc", False)]
    if p.type == "integer":
        edges.append(("fraction", lo + 0.5, False))
    if p.multiple_of:
        edges.append(("not a multiple", lo + 1, False))
    return edges


def _list_edges(p: Param) -> list[tuple[str, Any, bool]]:
    """Lists as a form sends them ("NAME:WEIGHT,NAME2"); the names are installed in the test's models folder."""
    names = LORA_NAMES[:p.max_items + 1]
    return [("max items", ",".join(names[:-1]), True), ("just above max items", ",".join(names), False),
            ("min weight", "a:-2", True), ("just below min weight", "a:-2.01", False), ("max weight", "a:2", True),
            ("just above max weight", "a:2.01", False), ("a path", "../a", False), ("named twice", "a,a", False),
            ("wrong type", NOT_TEXT, False)]


def edges(p: Param) -> list[tuple[str, Any, bool]]:
    """(label, value, accepted?) for one declared parameter."""
    if p.type == "array":
        return _list_edges(p)
    if p.type in ("integer", "number"):
        return _numeric_edges(p)
    if p.type == "boolean":
        return [("true", True, True), ("false", False, True), ("wrong type", "maybe", False)]
    if p.enum:
        return [*((f"allowed {v}", v, True) for v in p.enum), ("unknown value", "bogus", False),
                ("wrong type", NOT_TEXT, False)]
    limit = p.resolve("max_length", SETTINGS)
    return [("empty", "", not p.required), ("at max length", "x" * limit, True),
            ("just over max length", "x" * (limit + 1), False), ("wrong type", NOT_TEXT, False)]


CASES = [pytest.param(p.name, value, accepted, id=f"{p.name}-{label}")
         for p in REQUEST_PARAMS for label, value, accepted in edges(p)]


def _fields(p_name: str, value: Any) -> dict[str, Any]:
    return {"prompt": PROMPT, **CONTEXT.get(p_name, {}), p_name: value}


def http_verdict(client, video_bytes: bytes, name: str, value: Any) -> set[str]:
    fields = _fields(name, value)
    if value is NOT_TEXT:  # a form has only text: send JSON (the upload is missing, so only the field is judged)
        resp = client.post("/api/v1/jobs", json=fields)
        return set(resp.get_json()["errors"]) - {"video"}
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}
    data["video"] = (BytesIO(video_bytes), "dance.mp4")
    resp = client.post("/api/v1/jobs", data=data, content_type="multipart/form-data")
    assert resp.status_code in (202, 422), resp.get_data(as_text=True)
    return set() if resp.status_code == 202 else set(resp.get_json()["errors"])


def cli_verdict(video: Path, tmp_path: Path, name: str, value: Any) -> set[str] | None:
    """The fields `manage.py generate` refuses (exit code 2), or None where a flag cannot say ``value``."""
    argv = ["generate", "--video", str(video), "--out", str(tmp_path / "o.mp4")]
    for p in REQUEST_PARAMS:
        given = _fields(name, value).get(p.name)
        if given is None or (p.type == "boolean" and given == p.default):
            continue
        if p.type == "boolean":
            if given is not (not p.default):
                return None  # a switch has no wrong type
            argv.append(p.cli_flag)
        elif given is NOT_TEXT:
            return None  # command-line arguments are always text
        elif p.type == "array":
            for item in str(given).split(","):
                argv += [p.cli_flag, item]  # a list is the flag repeated
        else:
            argv += [p.cli_flag, str(given)]
    args = build_parser().parse_args(argv)
    try:
        build_request(args)
    except InvalidInput as exc:  # cli.main prints it on one line and exits with code 2
        return set(exc.errors)
    return set()


def python_verdict(video: Path, name: str, value: Any) -> set[str]:
    try:
        GenerationRequest(video=video, **_fields(name, value)).validate(SETTINGS)
    except InvalidInput as exc:
        return set(exc.errors)
    return set()


@pytest.fixture(scope="module")
def contract_video(tmp_path_factory) -> Path:
    """As many frames as a job may make (the API refuses frames a video cannot give, see test_uploads.py)."""
    from tests.media import make_video

    return make_video(tmp_path_factory.mktemp("contract-video") / "long.mp4", SETTINGS.max_output_frames,
                      width=32, height=32)


@pytest.fixture(scope="module")
def contract_client(tmp_path_factory, demo_models):
    from tests.api.helpers import base_config
    from tests.lora_files import models_with_loras, write_lora
    from text2video.api import create_app

    root = tmp_path_factory.mktemp("contract")
    models = models_with_loras(demo_models, root / "models")
    for name in LORA_NAMES:
        write_lora(models / "loras" / f"{name}.safetensors", "kohya")
    app = create_app(base_config(root, max_queued_per_key=0, models_dir=str(models)))
    assert settings_of(app).max_output_frames == SETTINGS.max_output_frames
    return app.test_client()


@pytest.mark.parametrize("name,value,accepted", CASES)
def test_every_entry_point_gives_the_same_verdict(contract_client, contract_video, tmp_path, name, value, accepted):
    expected = set() if accepted else {name}
    assert http_verdict(contract_client, contract_video.read_bytes(), name, value) == expected
    cli = cli_verdict(contract_video, tmp_path, name, value)
    assert cli is None or cli == expected
    assert python_verdict(contract_video, name, value) == expected


def test_every_parameter_is_walked():
    walked = {case.values[0] for case in CASES}
    assert walked == {p.name for p in REQUEST_PARAMS}
    assert all(any(not case.values[2] for case in CASES if case.values[0] == p.name) for p in REQUEST_PARAMS)


def test_library_guards_allow_what_the_request_allows():
    """The stages keep their own guards (as diffusers' check_inputs); they must accept every declared value."""
    from text2video.diffusion.pipeline import SCHEDULERS
    from text2video.pose.input_kind import INPUT_TYPES
    from text2video.prompt.validation import LANGS
    from text2video.request import PARAMS_BY_NAME

    assert PARAMS_BY_NAME["scheduler"].enum == SCHEDULERS
    assert PARAMS_BY_NAME["input_type"].enum == INPUT_TYPES
    assert PARAMS_BY_NAME["lang"].enum == LANGS
