"""video_url / callback_url: SSRF guard (checked at connect time), redirects, size and time caps."""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest

from tests.api.helpers import LocalServer, expect_problem, settings_of, store_of
from text2video import netguard
from text2video.exceptions import InvalidInput


@pytest.mark.parametrize("address,words", [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("10.1.2.3", "private"), ("192.168.0.10", "private"),
    ("172.16.5.4", "private"), ("169.254.169.254", "link-local"), ("100.64.0.1", "carrier-grade NAT"),
    ("224.0.0.251", "multicast"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"),
    ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"), ("fd00::1", "private"),
    ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "IPv4-mapped"), ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("2002:7f00:1::1", "6to4"), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"), ("64:ff9b::7f00:1", "NAT64"),
    ("192.0.2.1", "private"),
])
def test_blocked_addresses(address, words):
    reason = netguard.blocked_reason(ipaddress.ip_address(address))
    assert reason and words in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.215.14"])
def test_public_addresses_pass(address):
    assert netguard.blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url,words", [
    ("ftp://example.com/a.mp4", "scheme 'ftp'"), ("file:///etc/passwd", "scheme 'file'"),
    ("javascript:alert(1)", "scheme"), ("gopher://x/", "scheme"), ("http:///nohost", "no host"),
    ("http://user:pw@example.com/a.mp4", "credentials"), ("http://2130706433/", "unusual form"),
    ("http://0177.0.0.1/", "unusual form"), ("http://0x7f.1/", "unusual form"), ("http://127.1/", "unusual form"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"), ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://exa mple.com/", "spaces"), ("http://example.com:99999/", "Port out of range"),
])
def test_bad_urls_refused_before_any_connection(url, words):
    with pytest.raises(InvalidInput) as info:
        netguard.parse_url(url, field="video_url")
    assert words in str(info.value) and info.value.field == "video_url"


def test_names_resolving_to_loopback_are_refused():
    with pytest.raises(InvalidInput, match="resolves to 127.0.0.1"):
        netguard.validate_url("http://localhost:9/a.mp4", field="callback_url")


def test_check_happens_at_connect_time_dns_rebinding(monkeypatch, local_server, tmp_path):
    """A name that is public when validated and loopback when connected (DNS rebinding) is still refused, and the
    local server never receives the request."""
    local_server.file("/a.mp4", b"secret")
    real = socket.getaddrinfo
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", local_server.port))]])

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            try:
                return next(answers)
            except StopIteration:
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://rebind.test:{local_server.port}/a.mp4"
    netguard.validate_url(url)  # first answer: a public address
    with pytest.raises(InvalidInput, match="resolves to 127.0.0.1"):
        netguard.fetch(url, tmp_path / "out", max_bytes=1000, timeout_s=5)
    assert local_server.hits == [] and not (tmp_path / "out").exists()


def test_download_size_and_time_caps(local_server, tmp_path):
    policy = netguard.Policy(allow_private=True)
    local_server.file("/big", b"x" * 5000)
    local_server.file("/big-chunked", b"x" * 5000, length=False)

    def slow(h):
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        for _ in range(50):
            h.wfile.write(b"x" * 10)
            h.wfile.flush()
            time.sleep(0.1)
    local_server.route("/slow", slow)
    with pytest.raises(netguard.URLRejected, match="over the 1000 bytes limit"):
        netguard.fetch(local_server.url("/big"), tmp_path / "a", max_bytes=1000, policy=policy)
    with pytest.raises(netguard.URLRejected, match="passed the 1000 bytes limit"):
        netguard.fetch(local_server.url("/big-chunked"), tmp_path / "a", max_bytes=1000, policy=policy)
    started = time.monotonic()
    with pytest.raises(InvalidInput, match="longer than 1 s"):
        netguard.fetch(local_server.url("/slow"), tmp_path / "a", max_bytes=10**6, timeout_s=1, policy=policy)
    assert time.monotonic() - started < 3
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_redirects_are_followed_and_capped(local_server, tmp_path):
    policy = netguard.Policy(allow_private=True)
    local_server.file("/v.mp4", b"video-bytes")
    for i in range(1, 6):
        local_server.redirect(f"/r{i}", f"/r{i - 1}" if i > 1 else "/v.mp4")
    result = netguard.fetch(local_server.url("/r3"), tmp_path / "a", max_bytes=1000, policy=policy)
    assert (tmp_path / "a").read_bytes() == b"video-bytes" and len(result.redirects) == 3
    with pytest.raises(InvalidInput, match="redirected more than 3 times"):
        netguard.fetch(local_server.url("/r4"), tmp_path / "b", max_bytes=1000, policy=policy)


def test_send_for_webhooks(local_server):
    local_server.file("/hook", b"ok", content_type="text/plain")
    with pytest.raises(InvalidInput, match="loopback"):
        netguard.send(local_server.url("/hook"), "GET")
    resp = netguard.send(local_server.url("/hook"), "GET", policy=netguard.Policy(allow_private=True))
    assert resp.status == 200 and resp.body == b"ok"


# --- through the API ---------------------------------------------------------------------------------------------

def _submit_url(client, url, **extra):
    return client.post("/api/v1/jobs", json={"prompt": "a girl dancing", "video_url": url, **extra})


def test_api_ssrf_against_local_server(client, local_server, sample_bytes):
    local_server.file("/dance.mp4", sample_bytes)
    port = local_server.port
    for url in (local_server.url("/dance.mp4"), f"http://2130706433:{port}/dance.mp4",
                f"http://[::ffff:127.0.0.1]:{port}/dance.mp4", f"http://0177.0.0.1:{port}/dance.mp4",
                f"http://localhost:{port}/dance.mp4"):
        body = expect_problem(_submit_url(client, url), 422)
        assert set(body["errors"]) == {"video_url"}, url
    assert local_server.hits == []  # not one request reached the server
    assert store_of(client.application).list()[1] == 0


def test_api_redirect_to_loopback_is_refused(make_app, sample_bytes):
    """127.0.0.2 is opened on purpose (url_allow_networks); its redirect to 127.0.0.1 must still be refused."""
    server = LocalServer("127.0.0.2")
    try:
        server.file("/dance.mp4", sample_bytes)
        server.redirect("/go", f"http://127.0.0.1:{server.port}/dance.mp4")
        client = make_app(url_allow_networks="127.0.0.2/32").test_client()
        body = expect_problem(_submit_url(client, server.url("/go")), 422)
        assert "127.0.0.1" in body["errors"]["video_url"] and "loopback" in body["errors"]["video_url"]
        assert server.hits == ["/go"]
        # the same server is fine when nothing leaves the opened network
        server.redirect("/ok", f"http://127.0.0.2:{server.port}/dance.mp4")
        assert _submit_url(client, server.url("/ok")).status_code == 202
    finally:
        server.close()


def test_api_download_with_private_allowed(make_app, local_server, sample_bytes):
    client = make_app(url_allow_private=True).test_client()
    local_server.file("/clips/dance.webm?x=1", b"")  # unused: query strings are stripped for routing
    local_server.file("/clips/dance", sample_bytes, content_type="video/webm")
    resp = _submit_url(client, local_server.url("/clips/dance"))
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = store_of(client.application).get(resp.get_json()["id"])
    assert job.video_url == local_server.url("/clips/dance") and job.inputs == {"video": "input.webm"}
    folder = settings_of(client.application).jobs_dir / job.id
    assert (folder / "input.webm").read_bytes() == sample_bytes


def test_api_url_too_big_is_422_naming_the_limit(make_app, local_server):
    client = make_app(url_allow_private=True, max_upload_mb=1).test_client()
    local_server.file("/big.mp4", b"\0" * (1024 * 1024 + 1))
    local_server.file("/big-stream.mp4", b"\0" * (1024 * 1024 + 1), length=False)
    for path in ("/big.mp4", "/big-stream.mp4"):
        body = expect_problem(_submit_url(client, local_server.url(path)), 422)
        assert "1.0 MB limit" in body["errors"]["video_url"]
    assert not any(settings_of(client.application).jobs_dir.glob("*"))


def test_api_url_that_is_not_a_video_is_415(make_app, local_server):
    client = make_app(url_allow_private=True).test_client()
    local_server.file("/page.mp4", b"<html>not a video</html>" * 20, content_type="text/html")
    body = expect_problem(_submit_url(client, local_server.url("/page.mp4")), 415)
    assert set(body["errors"]) == {"video_url"}
    local_server.file("/missing.mp4", b"")
    body = expect_problem(_submit_url(client, local_server.url("/nothing.mp4")), 422)
    assert "HTTP 404" in body["detail"]


def test_api_bad_scheme_and_callback(client):
    body = expect_problem(_submit_url(client, "ftp://example.com/a.mp4"), 422)
    assert "scheme" in body["errors"]["video_url"]
    body = expect_problem(client.post("/api/v1/jobs", json={"prompt": "x", "video_url": "https://example.com/a.mp4",
                                                            "callback_url": "http://127.0.0.1:9/hook"}), 422)
    assert set(body["errors"]) == {"callback_url"}


def test_https_goes_through_the_same_guard(tmp_path, sample_bytes):
    """HTTPS connections are pinned and checked the same way; certificates are verified (a self-signed one fails)."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    server = LocalServer("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.file("/v.mp4", sample_bytes)
    url = f"https://127.0.0.1:{server.port}/v.mp4"
    try:
        with pytest.raises(InvalidInput, match="loopback"):
            netguard.fetch(url, tmp_path / "a", max_bytes=10**6, timeout_s=5)
        with pytest.raises(InvalidInput, match="(?i)certificate"):
            netguard.fetch(url, tmp_path / "a", max_bytes=10**6, timeout_s=5, policy=netguard.Policy(allow_private=True))
        assert not (tmp_path / "a").exists()
    finally:
        server.close()


def test_a_refused_callback_url_is_told_what_it_must_be_and_why_in_codes(client):
    """Issue 20 item 5: a refused callback_url was told to give "a public http(s) URL of the video file", and the
    Vietnamese UI lost the reason (loopback, link-local): it only had the generic code."""
    body = expect_problem(client.post("/api/v1/jobs", json={"prompt": "x", "video_url": "https://example.com/a.mp4",
                                                            "callback_url": "http://127.0.0.1:9/hook"}), 422)
    assert "video file" not in body["detail"] and "webhook receiver" in body["detail"], body["detail"]
    refused, hint = body["messages"]["detail"]
    assert refused["code"] == "url.refused" and hint["code"] == "hint.url_callback"
    assert refused["params"]["reason"] == {"code": "url.address_blocked", "params": {
        "address": "127.0.0.1", "reason": {"code": "url.blocked.loopback", "params": {}}}}
    body = expect_problem(_submit_url(client, "http://169.254.169.254/latest/meta-data"), 422)
    assert body["messages"]["detail"][0]["params"]["reason"]["params"]["reason"]["code"] == "url.blocked.link_local"
    assert body["messages"]["detail"][1]["code"] == "hint.url_video" and "video file" in body["detail"]
