"""ngrok tunnel: the failure paths (no network here) and API key generation, for real."""

from __future__ import annotations

import os
import stat
import time

from text2video import tunnel


def test_api_key_generated_stored_and_reused(service_settings):
    key, generated = tunnel.ensure_api_key(service_settings)
    assert generated and key.startswith("t2v_") and len(key) > 30
    path = service_settings.data_dir / "api_key"
    assert path.read_text().strip() == key and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert tunnel.ensure_api_key(service_settings) == (key, False)
    assert tunnel.ensure_api_key(service_settings.replace(api_keys="mine, other")) == ("mine", False)


def test_no_token_says_how_to_get_one(service_settings):
    t = tunnel.start_tunnel(service_settings.replace(ngrok_authtoken=""), 8000)
    assert not t.ok and "NGROK_AUTHTOKEN" in t.error and "dashboard.ngrok.com" in t.error
    assert t.api_key  # a key is settled even so: the caller passes it to the app before anything is public


def test_missing_or_unusable_binary(service_settings, tmp_path):
    s = service_settings.replace(ngrok_authtoken="tok", ngrok_path=str(tmp_path / "nope" / "ngrok"))
    t = tunnel.start_tunnel(s, 8000)
    assert not t.ok and "not found" in t.error and "TEXT2VIDEO_NGROK_PATH" in t.error
    plain = tmp_path / "ngrok"
    plain.write_text("not a program")
    t = tunnel.start_tunnel(s.replace(ngrok_path=str(plain)), 8000)
    assert not t.ok and "not executable" in t.error


def test_ngrok_refusing_the_token_is_reported(service_settings, tmp_path):
    # A stand-in ngrok binary that fails like the real one does with a bad token (logfmt on stdout, exit 1):
    # the real pyngrok start-up path runs and its error reaches the user.
    fake = tmp_path / "ngrok"
    fake.write_text("#!/bin/sh\necho 't=2026-01-01T00:00:00+0000 lvl=eror msg=\"session closed\" "
                    "err=\"authentication failed: The authtoken you specified is invalid. ERR_NGROK_107\"'\nexit 1\n")
    fake.chmod(0o755)
    started = time.monotonic()
    t = tunnel.start_tunnel(service_settings.replace(ngrok_authtoken="bad", ngrok_path=str(fake)), 8000,
                            timeout_s=20)
    assert time.monotonic() - started < 20
    assert not t.ok and t.public_url is None
    assert "authentication failed" in t.error and "ERR_NGROK_107" in t.error
