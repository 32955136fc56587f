"""Celery configuration and enqueue (no worker needed)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from text2video.exceptions import ServiceUnavailable
from text2video.jobs.queue import TASK_NAME, celery_config, enqueue, make_celery, requeue_queued


def test_config_follows_the_reliability_rules(service_settings):
    conf = celery_config(service_settings.replace(broker_url="redis://127.0.0.1:6379/0", job_timeout_s=7200))
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1 and conf["worker_concurrency"] == 1
    assert conf["task_ignore_result"] and conf["result_backend"] is None
    assert conf["broker_transport_options"]["visibility_timeout"] > 7200
    sqlite_conf = celery_config(service_settings)
    assert sqlite_conf["broker_url"].startswith("t2vsqla+sqlite:///")  # kombu's sqla transport, poll settable
    assert sqlite_conf["broker_transport_options"]["polling_interval"] <= 0.5
    assert str(service_settings.data_dir.resolve()) in sqlite_conf["broker_url"]


def test_enqueue_persists_a_message_in_the_sqlite_broker(service_settings, store):
    app = make_celery(service_settings)
    job = store.create({}, {"video": "input.mp4"}, "p", model="follow-your-pose")
    enqueue(app, job.id, job.model)
    db = service_settings.broker_url[len("sqla+sqlite:///"):]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT q.name, m.payload FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id"
                            ).fetchall()
    assert len(rows) == 1 and rows[0][0] == "t2v.follow-your-pose"  # its family's queue
    payload = json.loads(rows[0][1])
    assert payload["headers"]["task"] == TASK_NAME and job.id in payload["headers"]["argsrepr"]
    # requeue_queued re-sends every queued job (what serve does at start)
    store.request_cancel(store.create({}, {"video": "input.mp4"}, "p2").id)
    assert requeue_queued(app, store) == 1


def test_unreachable_broker_is_a_clear_503(service_settings):
    app = make_celery(service_settings.replace(broker_url="redis://:secret@127.0.0.1:1/0"))
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as exc:
        enqueue(app, "a" * 32)
    assert time.monotonic() - started < 15
    assert exc.value.http_status == 503 and "TEXT2VIDEO_BROKER_URL" in str(exc.value)
    assert "secret" not in str(exc.value)  # the password is not echoed


def test_delivered_messages_are_purged_from_the_sqlite_broker(service_settings, live_worker):
    from text2video.jobs.queue import purge_delivered_messages

    job_id = live_worker.create("purge me", steps=1)
    live_worker.wait_status(job_id, timeout=30)
    db = live_worker.settings.broker_url[len("sqla+sqlite:///"):]

    def delivered():
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM kombu_message WHERE visible = 0").fetchone()[0]
    before = delivered()
    assert before >= 1
    assert purge_delivered_messages(live_worker.settings) == 0  # younger than a day: kept
    assert purge_delivered_messages(live_worker.settings, older_than_s=-60) == before
    assert delivered() == 0
    assert purge_delivered_messages(service_settings.replace(broker_url="redis://127.0.0.1:1/0")) == 0


def test_sqlite_file_is_read_by_sqlalchemy_make_url(tmp_path, service_settings):
    from text2video.settings import sqlite_file

    assert sqlite_file(f"sqla+sqlite:///{tmp_path}/q/broker.sqlite") == tmp_path / "q" / "broker.sqlite"
    assert sqlite_file("sqlite:///rel/jobs.db?timeout=30") == Path("rel/jobs.db")  # options are not the path
    for other in ("sqlite://", "sqlite:///:memory:", "redis://:pw@h:6379/0", "postgresql+psycopg://u:p@h/db"):
        assert sqlite_file(other) is None, other
    make_celery(service_settings.replace(broker_url=f"sqla+sqlite:///{tmp_path}/new dir/b.sqlite?timeout=5"))
    assert (tmp_path / "new dir").is_dir()


def test_each_family_has_its_queue_and_a_worker_takes_those_it_has_weights_for(service_settings, store, tmp_path,
                                                                               demo_models):
    from tests.made_up_family import registered
    from text2video.jobs.queue import worker_queues

    with registered():
        only_made_up = tmp_path / "models"
        (only_made_up / "made-up-1b").mkdir(parents=True)
        assert worker_queues(service_settings.replace(models_dir=only_made_up)) == ["t2v.made-up"]
        assert worker_queues(service_settings.replace(models_dir=demo_models)) == ["t2v.follow-your-pose",
                                                                                    "t2v.wan-vace", "t2v.made-up"]
        app = make_celery(service_settings)
        job = store.create({}, {"video": "input.mp4"}, "p", model="made-up-9b")
        enqueue(app, job.id, job.model)
        db = service_settings.broker_url[len("sqla+sqlite:///"):]
        with sqlite3.connect(db) as conn:
            queues = [row[0] for row in conn.execute(
                "SELECT q.name FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id")]
        assert queues == ["t2v.made-up"]  # a box with only Follow-Your-Pose never takes it
