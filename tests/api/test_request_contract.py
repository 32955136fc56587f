"""One request contract: every parameter of every model family walked through its edges (at that family's bounds,
with its frame rule; and every parameter it does not take, which it must refuse) gets the same verdict from HTTP
(POST /api/v1/jobs), the CLI (`manage.py generate` flags through its own request builder) and Python
(GenerationRequest.validate). The edges come from the declarations, so a new parameter or family is walked too.

Each verdict is the set of fields refused (empty = accepted); nothing here runs a model.
"""

from __future__ import annotations

from fractions import Fraction

from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import settings_of
from tests.made_up_family import MADE_UP, registered
from text2video.cli import build_parser
from text2video.cli.generate import build_request
from text2video.exceptions import InvalidInput
from text2video.families import FAMILIES
from text2video.request import PARAMS_BY_NAME, GenerationRequest, Param, all_params, family_params
from text2video.models.loras import WAN
from text2video.settings import Settings

SETTINGS = Settings.load({}, environ={})
PROMPT = "a girl dancing on a mountain"
# Values other fields need for an edge to be judged alone (the overlap must stay below the window; the most frames
# the video gives: every frame of the contract video, see contract_video).
CONTEXT = {"window_overlap": {"window": SETTINGS.max_output_frames}, "frames": {"stride": 1}}
NOT_TEXT = 5  # a JSON number where text belongs: only HTTP (JSON) and Python can send it
LORA_NAMES = ["a", "b", "c", "d", "e"]  # installed in the HTTP test's models folder: SD-1.x LoRAs by these names,
WAN_PREFIX = "w"  # and Wan LoRAs (the demo transformer's shapes) by these names with this prefix, for Wan models
# every registered family and the made-up one (registered while these tests run): a family's parameters are
# walked at its own bounds, and every parameter it does not take must be refused
WALKED = (*FAMILIES.values(), MADE_UP)


def _numeric_edges(p: Param, rule) -> list[tuple[str, Any, bool]]:
    lo, hi = p.resolve("minimum", SETTINGS), p.resolve("maximum", SETTINGS)
    step = 1 if p.type == "integer" else 0.01
    edges = [("just below min", lo - step, False), ("min", lo, True), ("max", hi, True),
             ("just above max", hi + step, False), ("wrong type", "abc", False)]
    if p.type == "integer":
        edges.append(("fraction", lo + 0.5, False))
    if p.multiple_of:
        edges.append(("not a multiple", lo + 1, False))
    if p.name == "frames" and rule.step > 1:
        edges += [("off the frame rule", lo + 1, False), ("on the frame rule", lo + rule.step, True)]
    return edges


def _list_edges(p: Param, prefix: str = "") -> list[tuple[str, Any, bool]]:
    """Lists as a form sends them ("NAME:WEIGHT,NAME2"); the names are installed in the test's models folder (with
    ``prefix``: the LoRAs that fit the family walked)."""
    names = [prefix + name for name in LORA_NAMES[:p.max_items + 1]]
    a = names[0]
    return [("max items", ",".join(names[:-1]), True), ("just above max items", ",".join(names), False),
            ("min weight", f"{a}:-2", True), ("just below min weight", f"{a}:-2.01", False),
            ("max weight", f"{a}:2", True), ("just above max weight", f"{a}:2.01", False),
            ("a path", f"../{a}", False), ("named twice", f"{a},{a}", False),
            ("wrong type", NOT_TEXT, False)]


def edges(p: Param, rule=MADE_UP.frame_rule, lora_prefix: str = "") -> list[tuple[str, Any, bool]]:
    """(label, value, accepted?) for one declared parameter as a family takes it."""
    if p.type == "array":
        return _list_edges(p, lora_prefix)
    if p.type in ("integer", "number"):
        return _numeric_edges(p, rule)
    if p.type == "boolean":
        return [("true", True, True), ("false", False, True), ("wrong type", "maybe", False)]
    if p.enum:
        allowed = p.resolve("enum", SETTINGS)
        return [*((f"allowed {v}", v, True) for v in allowed), ("unknown value", "bogus", False),
                ("wrong type", NOT_TEXT, False)]
    limit = p.resolve("max_length", SETTINGS)
    return [("empty", "", not p.required), ("at max length", "x" * limit, True),
            ("just over max length", "x" * (limit + 1), False), ("wrong type", NOT_TEXT, False)]


def _valid(p: Param) -> Any:
    """A value the families that take ``p`` accept (what another family must refuse all the same)."""
    if p.type == "array":
        return "a"
    if p.type == "boolean":
        return True if p.default is None else not p.default  # what its flag says
    if p.enum:
        return p.resolve("enum", SETTINGS)[0]
    lo = p.resolve("minimum", SETTINGS)
    return lo if lo is not None else "x"


def _family_cases(family) -> list:
    model = family.variants[0].name
    takes = family_params(family)
    names = {**all_params(), **{p.name: p for p in family.own_params}}
    cases = [pytest.param(model, p.name, value, accepted, id=f"{model}-{p.name}-{label}")
             for p in takes.values() if p.name != "model"
             for label, value, accepted in edges(p, family.frame_rule, WAN_PREFIX if family.lora_format == WAN else "")]
    cases += [pytest.param(model, name, _valid(p), False, id=f"{model}-{name}-not-its-parameter")
              for name, p in names.items() if name not in takes]
    return cases


MODEL_CASES = [pytest.param(None, "model", value, accepted, id=f"model-{label}")
               for label, value, accepted in edges(replace(PARAMS_BY_NAME["model"], enum=tuple(
                   v.name for f in WALKED for v in f.variants)))]
CASES = MODEL_CASES + [case for family in WALKED for case in _family_cases(family)]


@pytest.fixture(autouse=True, scope="module")
def made_up_family():
    with registered():
        yield


def _fields(model: str | None, p_name: str, value: Any) -> dict[str, Any]:
    takes = family_params(next(f for f in WALKED if model is None or model in f.variant_names))
    context = {k: v for k, v in CONTEXT.get(p_name, {}).items() if k in takes} if p_name in takes else {}
    if "window" in context:  # the longest window THIS family takes (Wan's is 4k+1)
        context["window"] = takes["window"].resolve("maximum", SETTINGS)
    return {"prompt": PROMPT, **({"model": model} if model else {}), **context, p_name: value}


def http_verdict(client, video_bytes: bytes, fields: dict[str, Any]) -> set[str]:
    if NOT_TEXT in fields.values():  # a form has only text: send JSON (the upload is missing: only fields judged)
        resp = client.post("/api/v1/jobs", json=fields)
        return set(resp.get_json()["errors"]) - {"video"}
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}
    data["video"] = (BytesIO(video_bytes), "dance.mp4")
    resp = client.post("/api/v1/jobs", data=data, content_type="multipart/form-data")
    assert resp.status_code in (202, 422), resp.get_data(as_text=True)
    return set() if resp.status_code == 202 else set(resp.get_json()["errors"])


def cli_verdict(video: Path, tmp_path: Path, fields: dict[str, Any]) -> set[str] | None:
    """The fields `manage.py generate` refuses (exit code 2), or None where a flag cannot say a value."""
    argv = ["generate", "--video", str(video), "--out", str(tmp_path / "o.mp4")]
    for name, given in fields.items():
        p = all_params()[name]
        if p.type == "boolean":
            if p.default is None:
                if not isinstance(given, bool):
                    return None  # a switch has no wrong type
                argv.append(p.cli_flag if given else "--no-" + p.cli_flag[2:])
                continue
            if given == p.default:
                continue
            if given is not (not p.default):
                return None
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


def python_verdict(video: Path, fields: dict[str, Any]) -> set[str]:
    try:
        GenerationRequest(video=video, **fields).validate(SETTINGS)
    except InvalidInput as exc:
        return set(exc.errors)
    return set()


@pytest.fixture(scope="module")
def contract_video(tmp_path_factory) -> Path:
    """As many frames as a job may make (the API refuses frames a video cannot give, see test_uploads.py)."""
    from tests.media import make_video

    # 16 fps: Wan VACE samples at its 16 fps, so every model gets every frame (at stride 1)
    return make_video(tmp_path_factory.mktemp("contract-video") / "long.mp4", SETTINGS.max_output_frames,
                      width=32, height=32, fps=Fraction(16))


@pytest.fixture(scope="module")
def contract_client(tmp_path_factory, demo_models):
    from tests.api.helpers import base_config
    from tests.lora_files import models_with_loras, write_demo_wan_lora, write_lora
    from text2video.api import create_app

    root = tmp_path_factory.mktemp("contract")
    models = models_with_loras(demo_models, root / "models")
    for name in LORA_NAMES:
        write_lora(models / "loras" / f"{name}.safetensors", "kohya")
        write_demo_wan_lora(models / "loras" / f"{WAN_PREFIX}{name}.safetensors", "diffusers")
    app = create_app(base_config(root, max_queued_per_key=0, models_dir=str(models)))
    assert settings_of(app).max_output_frames == SETTINGS.max_output_frames
    return app.test_client()


@pytest.mark.parametrize("model,name,value,accepted", CASES)
def test_every_entry_point_gives_the_same_verdict(contract_client, contract_video, tmp_path, model, name, value,
                                                  accepted):
    expected = set() if accepted else {name}
    fields = _fields(model, name, value)
    assert http_verdict(contract_client, contract_video.read_bytes(), fields) == expected
    cli = cli_verdict(contract_video, tmp_path, fields)
    assert cli is None or cli == expected
    assert python_verdict(contract_video, fields) == expected


def test_every_parameter_of_every_family_is_walked():
    for family in WALKED:
        model = family.variants[0].name
        walked = {case.values[1] for case in CASES if case.values[0] == model}
        assert walked | {"model"} == set(all_params()) | {p.name for p in family.own_params}
        refused = {case.values[1] for case in CASES if case.values[0] == model and not case.values[3]}
        assert refused >= walked - {"prompt"} or refused >= walked - {"negative_prompt"}
    assert {case.values[2] for case in MODEL_CASES if case.values[3]} == {v.name for f in WALKED for v in f.variants}


def test_refusals_name_the_models_that_take_it(contract_client, sample_bytes):
    resp = contract_client.post("/api/v1/jobs", json={"prompt": PROMPT, "model": "made-up-1b", "loras": ["a"],
                                                      "frames": 80})
    errors = resp.get_json()["errors"]
    assert resp.status_code == 422
    assert "the models that take it: follow-your-pose" in errors["loras"]
    assert errors["frames"].startswith("frames must be 4k+1 for made-up-1b; the closest is 81")
    fyp = contract_client.post("/api/v1/jobs", json={"prompt": PROMPT, "width": 336})
    assert "multiple of 64" in fyp.get_json()["errors"]["width"]  # the default model's own bounds


def test_library_guards_allow_what_the_request_allows():
    """The stages keep their own guards (as diffusers' check_inputs); they must accept every declared value."""
    from text2video.diffusion.pipeline import SCHEDULERS
    from text2video.families.follow_your_pose import FAMILY
    from text2video.pose.input_kind import INPUT_TYPES
    from text2video.prompt.validation import LANGS

    assert family_params(FAMILY)["scheduler"].enum == SCHEDULERS
    assert PARAMS_BY_NAME["input_type"].enum == INPUT_TYPES
    assert PARAMS_BY_NAME["lang"].enum == LANGS
