"""Server texts as code + params: the English table, the web UI's Vietnamese table in step with it, Message as a
str that keeps its codes through pickling and joins, and the job store keeping them (old databases included)."""

from __future__ import annotations

import json
import pickle
import re
import sqlite3
import string
from pathlib import Path

import pytest

from text2video import exceptions
from text2video.exceptions import InvalidInput, NoPersonFound
from text2video.jobs.fields import job_data
from text2video.jobs.store import JobStore
from text2video.jobs.workers import describe_exit
from text2video.messages import TEMPLATES, Message, items_of

I18N_JS = Path(__file__).resolve().parents[1] / "frontend" / "js" / "i18n.js"


def vietnamese_templates() -> dict[str, str]:
    """SERVER_VI from i18n.js: a JSON object literal (quoted keys and values), read as JSON."""
    source = I18N_JS.read_text(encoding="utf-8")
    body = re.search(r"const SERVER_VI = (\{.*?\n\});", source, re.S).group(1)
    return json.loads(body)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_server_code_has_a_vietnamese_template_with_the_same_params():
    vi = vietnamese_templates()
    assert set(vi) == set(TEMPLATES), {"no Vietnamese": set(TEMPLATES) - set(vi), "unknown": set(vi) - set(TEMPLATES)}
    for code, english in TEMPLATES.items():
        assert placeholders(vi[code]) == placeholders(english), code


def test_message_is_its_english_text_and_keeps_its_code_through_pickle():
    m = Message("pose.part_repaired", part=Message("pose.part.right_arm"), frames=Message("pose.frames", list="10–12"))
    assert m == "Right arm repaired in frames 10–12."
    assert items_of(m) == [{"code": "pose.part_repaired", "params": {
        "part": {"code": "pose.part.right_arm", "params": {}},
        "frames": {"code": "pose.frames", "params": {"list": "10–12"}}}}]
    assert items_of(pickle.loads(pickle.dumps(m))) == items_of(m)
    assert items_of("plain text") is None and items_of(f"{m}") is None  # formatting gives plain English


def test_join_keeps_a_plain_part_as_english_text():
    joined = Message.join([Message("pose.demo"), "pose ran on CPU."])
    assert joined == f"{TEMPLATES['pose.demo']} pose ran on CPU."
    assert items_of(joined) == [{"code": "pose.demo", "params": {}}, {"code": None, "text": "pose ran on CPU."}]


def test_an_error_without_its_own_code_gets_its_kinds_code_naming_field_and_value():
    exc = InvalidInput("steps must be between 1 and 200, not 0", field="steps", value="0", hint="Pick 1 to 200.")
    assert exc.text() == str(exc)
    assert items_of(exc.text()) == [{"code": "error.invalid_input", "params": {"field": "steps", "value": "0"}}]
    assert items_of(NoPersonFound("no person in 8 frames", field="video").text()) == [
        {"code": "error.no_person", "params": {}}]
    assert items_of(InvalidInput("3 fields are invalid").text())[0]["code"] == "error.invalid_request"


def test_every_error_kind_has_a_generic_code():
    kinds = [cls for cls in vars(exceptions).values() if isinstance(cls, type) and issubclass(cls, Exception)]
    assert len(kinds) > 10
    assert [k.code for k in kinds if "error." + k.code not in TEMPLATES] == []


def test_an_error_kind_without_a_template_gets_its_parents_code():
    class Refused(InvalidInput):
        code = "refused_here"

    exc = Refused("video_url http://10.0.0.1/a.mp4 was refused", field="video_url", value="http://10.0.0.1/a.mp4")
    assert items_of(exc.text()) == [{"code": "error.invalid_input",
                                     "params": {"field": "video_url", "value": "http://10.0.0.1/a.mp4"}}]
    assert items_of(exc.field_texts()["video_url"]) == items_of(exc.text())


@pytest.fixture
def store(tmp_path) -> JobStore:
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    s.create_tables()
    yield s
    s.dispose()


def test_the_job_json_carries_codes_for_pose_summary_warnings_and_error(store):
    job = store.create(params={}, inputs={"video": "input.mp4"}, prompt="a dancer")
    store.claim(job.id, "w1", 1, device=None)
    summary = Message.join([Message("pose.no_frames")])
    store.update_progress(job.id, "w1", pose_summary=summary, warnings=[Message("demo.weights"), "plain warning"])
    store.mark_failed(job.id, "no_person", NoPersonFound("nobody here", field="video").text(), worker="w1")
    data = job_data(store.get(job.id))
    assert data["pose_summary"] == TEMPLATES["pose.no_frames"]
    assert data["warnings"] == [TEMPLATES["demo.weights"], "plain warning"]
    assert data["messages"] == {"pose_summary": [{"code": "pose.no_frames", "params": {}}],
                                "warnings": [[{"code": "demo.weights", "params": {}}], None],
                                "error": [{"code": "error.no_person", "params": {}}]}
    assert data["error"] == {"code": "no_person", "message": "nobody here"}


def test_worker_lost_is_coded_with_its_exit_reason(store):
    job = store.create(params={}, inputs={"video": "input.mp4"}, prompt="a dancer")
    store.claim(job.id, "w1", 1, device=None)
    assert store.recover_lost(job.id, exit_code=-9, max_retries=0) == "failed"
    data = job_data(store.get(job.id))
    assert data["error"]["message"].startswith(describe_exit(-9))
    (item,) = data["messages"]["error"]
    assert item["code"] == "job.worker_lost"
    assert item["params"]["reason"] == {"code": "job.exit_signal", "params": {"code": -9, "signal": "SIGKILL"}}


def test_a_database_made_before_the_texts_column_gets_it_and_keeps_its_jobs(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = JobStore(url)
    old.create_tables()
    kept = old.create(params={}, inputs={"video": "input.mp4"}, prompt="made before the upgrade")
    old.dispose()
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("ALTER TABLE t2v_jobs DROP COLUMN texts")
    upgraded = JobStore(url)
    upgraded.create_tables()
    try:
        job = upgraded.get(kept.id)
        assert job.prompt == "made before the upgrade"
        assert job_data(job)["messages"] == {"pose_summary": None, "warnings": [], "error": None}
    finally:
        upgraded.dispose()
