"""Outbound HTTP to user-supplied URLs (``video_url``, ``callback_url``) without server-side request forgery.

Every address a host name resolves to, and every redirect target, is checked *at connect time* against loopback,
private, link-local (cloud metadata 169.254.169.254), CGNAT, multicast, reserved, unspecified and IPv6 transition
forms (IPv4-mapped, 6to4, Teredo, NAT64); the socket then connects to the very address that was checked, so a DNS
answer that changes between check and connect (rebinding) cannot redirect it. Unusual IP spellings (``2130706433``,
``0177.0.0.1``, ``0x7f.1``) are refused outright. Redirects are followed by hand (each hop re-checked), bodies are
size-capped while streaming and the whole transfer is time-capped. Environment proxies are never used: a proxy
would connect on our behalf to addresses we never checked.

``Policy.from_settings(settings)``: ``url_allow_private=True`` (tests only) lifts the address checks so tests can
serve files from 127.0.0.1; ``url_allow_networks="10.1.0.0/16"`` opens chosen networks (an intranet video store).

Used by the API for ``video_url`` downloads and by the webhook sender for ``callback_url``::

    validate_url(url, field="callback_url")                       # cheap submit-time check (scheme, host, DNS)
    fetch(url, dest, field="video_url", max_bytes=..., timeout_s=...)   # -> FetchResult, dest written atomically
    send(url, "POST", body=b"...", headers={...}, field="callback_url")  # -> Response (no redirects); body may be
                                                                         # an iterable of chunks (a file streamed)

A refused address raises :class:`URLRejected`; an allowed one that cannot be reached or does not answer in time
raises its subclass :class:`Unreachable` (a sender may retry that, never the former).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Iterable
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from .exceptions import InvalidInput
from .messages import Message

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
REDIRECT_CODES = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024
USER_AGENT = "text2video/0.1 (+url fetch)"

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")


class URLRejected(InvalidInput):
    """A user-supplied URL that we refuse to fetch (HTTP 422); ``field`` names the request field."""

    code = "url_rejected"
    title = "URL rejected"


class Unreachable(URLRejected):
    """An allowed URL whose server could not be reached or did not answer in time (may work later)."""


@dataclass(frozen=True)
class Policy:
    """Which addresses may be contacted. The default refuses everything that is not a public address."""

    allow_private: bool = False  # tests only: nothing is refused
    allow_networks: tuple = ()  # ip_network objects reachable despite the checks (an intranet video store)

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        nets = tuple(ipaddress.ip_network(n.strip(), strict=False)
                     for n in str(getattr(settings, "url_allow_networks", "") or "").split(",") if n.strip())
        return cls(allow_private=bool(getattr(settings, "url_allow_private", False)), allow_networks=nets)

    def reason(self, ip: IPAddress) -> str | None:
        if self.allow_private or any(ip.version == net.version and ip in net for net in self.allow_networks):
            return None
        return blocked_reason(ip)


def _policy(policy: Policy | None, allow_private: bool) -> Policy:
    return policy if policy is not None else Policy(allow_private=allow_private)


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be contacted, or None when it is an ordinary public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        # Transition forms smuggle an IPv4 address inside IPv6; we refuse them whatever they embed.
        if ip.ipv4_mapped is not None:
            return Message("url.blocked.ipv4_mapped", embedded=str(ip.ipv4_mapped))
        if ip in _SIXTOFOUR:
            return Message("url.blocked.sixtofour", embedded=str(ip.sixtofour))
        if ip in _TEREDO:
            return Message("url.blocked.teredo")
        if ip in _NAT64 or ip in _NAT64_LOCAL:
            return Message("url.blocked.nat64")
        if ip.scope_id:
            return Message("url.blocked.zone_id")
    if ip.is_unspecified:
        return Message("url.blocked.unspecified")
    if ip.is_loopback:
        return Message("url.blocked.loopback")
    if ip.is_link_local:
        return Message("url.blocked.link_local")
    if ip.is_multicast:
        return Message("url.blocked.multicast")
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return Message("url.blocked.cgnat")
    if ip.is_reserved:
        return Message("url.blocked.reserved")
    if ip.is_private:
        return Message("url.blocked.private")
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return Message("url.blocked.site_local")
    if not ip.is_global:
        return Message("url.blocked.not_global")
    return None


def _reject(field: str, url: str, reason: str, hint: str | None = None, kind: type = URLRejected) -> URLRejected:
    """The refusal of ``url`` in ``field``; a coded ``reason`` (a Message) keeps it coded, so a client in another
    language still shows why (loopback, link-local...)."""
    if isinstance(reason, Message):
        message = Message("url.refused", field=field, url=_short(url), reason=reason)
    else:
        message = f"{field} {_short(url)!s} was refused: {reason}"
    return kind(message, field=field, value=url, hint=hint or Message(_URL_HINTS.get(field, "hint.url_public")))


# what the URL of each field must point at (a callback_url is not a video file)
_URL_HINTS = {"video_url": "hint.url_video", "callback_url": "hint.url_callback"}


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n} bytes"


def _short(url: str, limit: int = 200) -> str:
    return url if len(url) <= limit else url[:limit] + "..."


def parse_url(url: str, *, field: str = "video_url", allow_private: bool = False, policy: Policy | None = None):
    """Check the URL's shape (scheme, host, port, no credentials, no odd IP spellings); returns the split URL."""
    if not isinstance(url, str) or not url.strip():
        raise _reject(field, str(url), "it is empty")
    url = url.strip()
    if len(url) > 2048:
        raise _reject(field, url, "it is longer than 2048 characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise _reject(field, url, "it contains spaces or control characters", "Percent-encode them.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _reject(field, url, f"it is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise _reject(field, url, f"the scheme {parts.scheme or '(none)'!r} is not allowed; only http and https are")
    host = parts.hostname
    if not host:
        raise _reject(field, url, "it has no host name")
    if parts.username is not None or parts.password is not None:
        raise _reject(field, url, "it contains credentials (user:password@)",
                      "Remove them; use a URL that needs no login.")
    if port is not None and not 0 < port < 65536:
        raise _reject(field, url, f"port {port} is out of range")
    literal = _ip_literal(host)
    if literal is None and _is_odd_ipv4_spelling(host):
        raise _reject(field, url, f"the host {host!r} is an IP address written in an unusual form "
                      "(decimal, octal, hex or shortened)", "Write IP addresses as four decimal numbers (a.b.c.d).")
    if literal is not None:
        reason = _policy(policy, allow_private).reason(literal)
        if reason:
            raise _reject(field, url, Message("url.address_blocked", address=str(literal), reason=reason))
    return parts


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_odd_ipv4_spelling(host: str) -> bool:
    """True for hosts the C resolver would read as an IPv4 address although they are not plain dotted quads."""
    try:
        socket.inet_aton(host.rstrip("."))
    except OSError:
        return False
    return True


def resolve_checked(host: str, port: int, *, field: str, url: str, policy: Policy) -> list[tuple]:
    """All addresses of ``host`` as ``getaddrinfo`` tuples, after checking EVERY one of them."""
    if _is_odd_ipv4_spelling(host) and _ip_literal(host) is None:
        raise _reject(field, url, f"the host {host!r} is an IP address written in an unusual form")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _reject(field, url, f"the host name {host!r} does not resolve ({exc.strerror})",
                      "Check the spelling of the URL.", Unreachable) from None  # may be a DNS hiccup
    if not infos:
        raise _reject(field, url, f"the host name {host!r} has no addresses")
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        reason = policy.reason(ip)
        if reason:
            raise _reject(field, url, Message("url.resolves_blocked", host=host, address=str(ip), reason=reason))
    return infos


def validate_url(url: str, *, field: str = "video_url", allow_private: bool = False, policy: Policy | None = None,
                 resolve: bool = True) -> str:
    """Submit-time check of a URL we will contact later (the real check is repeated at connect time)."""
    policy = _policy(policy, allow_private)
    parts = parse_url(url, field=field, policy=policy)
    if resolve:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        resolve_checked(parts.hostname, port, field=field, url=url, policy=policy)
    return url.strip()


# --- connections pinned to the checked address ----------------------------------------------------------------

def _connection_classes(field: str, url_ref: list[str], policy: Policy):
    def new_conn(self) -> socket.socket:
        infos = resolve_checked(self.host, self.port, field=field, url=url_ref[0], policy=policy)
        last_error: OSError | None = None
        for family, socktype, proto, _canon, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                for opt in self.socket_options or ():
                    sock.setsockopt(*opt)
                # urllib3 passes a float (or a sentinel meaning "socket default"): only floats are applied
                if isinstance(self.timeout, (int, float)):
                    sock.settimeout(self.timeout)
                sock.connect(sockaddr)  # the address just checked, never a fresh DNS answer
                return sock
            except OSError as exc:
                last_error = exc
                sock.close()
        raise _reject(field, url_ref[0], f"could not connect to {self.host}:{self.port} ({last_error})",
                      "Check that the URL is reachable from the server.", Unreachable)

    class GuardedHTTPConnection(HTTPConnection):
        _new_conn = new_conn

    class GuardedHTTPSConnection(HTTPSConnection):
        _new_conn = new_conn

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return GuardedHTTPPool, GuardedHTTPSPool


def _pool_manager(field: str, url_ref: list[str], policy: Policy) -> urllib3.PoolManager:
    http_pool, https_pool = _connection_classes(field, url_ref, policy)
    manager = urllib3.PoolManager(num_pools=2, retries=False)  # never a ProxyManager: proxies bypass the checks
    manager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}
    return manager


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


@dataclass
class FetchResult:
    url: str  # what the user gave
    final_url: str  # after redirects
    path: Path
    size: int
    content_type: str
    redirects: list[str] = dc_field(default_factory=list)


def _timeout(deadline: float, cap: float = 15.0) -> urllib3.Timeout:
    left = max(0.05, deadline - time.monotonic())
    return urllib3.Timeout(connect=min(cap, left), read=min(cap, left))


def _open(manager, method, url, *, field, deadline, total_s, body=None, headers=None):
    try:
        return manager.request(method, url, body=body, headers=headers, redirect=False, retries=False,
                               preload_content=False, decode_content=False, timeout=_timeout(deadline))
    except URLRejected:
        raise
    except Urllib3HTTPError as exc:
        if time.monotonic() >= deadline or "timed out" in str(exc).lower():
            raise _reject(field, url, f"the server did not answer within {total_s:g} s", kind=Unreachable) from None
        raise _reject(field, url, f"the request failed ({type(exc).__name__}: {exc})",
                      "Check that the URL is reachable from the server.", Unreachable) from None


def fetch(url: str, dest: str | Path, *, field: str = "video_url", max_bytes: int, timeout_s: float = 60.0,
          max_redirects: int = 3, allow_private: bool = False, policy: Policy | None = None) -> FetchResult:
    """Download ``url`` to ``dest`` (temp name + rename), following at most ``max_redirects`` checked redirects."""
    policy = _policy(policy, allow_private)
    dest = Path(dest)
    deadline = time.monotonic() + timeout_s
    current = parse_url(url, field=field, policy=policy).geturl()
    url_ref = [url]
    redirects: list[str] = []
    manager = _pool_manager(field, url_ref, policy)
    try:
        while True:
            url_ref[0] = current
            resp = _open(manager, "GET", current, field=field, deadline=deadline, total_s=timeout_s,
                         headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "video/*,*/*"})
            if resp.status in REDIRECT_CODES:
                location = resp.headers.get("Location")
                resp.release_conn()
                if not location:
                    raise _reject(field, current, f"the server answered {resp.status} without a Location header")
                if len(redirects) >= max_redirects:
                    raise _reject(field, url, f"it redirected more than {max_redirects} times")
                current = urljoin(current, location)
                parse_url(current, field=field, policy=policy)  # the connect-time check follows
                redirects.append(current)
                continue
            break
        if resp.status >= 400 or resp.status < 200:
            resp.release_conn()
            raise _reject(field, current, f"the server answered HTTP {resp.status} {resp.reason or ''}".rstrip(),
                          "Check that the URL points at a downloadable video file.")
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            resp.release_conn()
            raise _reject(field, url, f"the file is {_size(int(length))}, over the {_size(max_bytes)} limit",
                          "Use a shorter or smaller video.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        size = 0
        try:
            with open(tmp, "wb") as fh:
                while True:
                    if time.monotonic() >= deadline:
                        raise _reject(field, url, f"the download took longer than {timeout_s:g} s",
                                      "Use a smaller file or a faster server.")
                    try:
                        chunk = resp.read1(CHUNK)
                    except (Urllib3HTTPError, OSError) as exc:
                        if time.monotonic() >= deadline or "timed out" in str(exc).lower():
                            raise _reject(field, url, f"the download took longer than {timeout_s:g} s") from None
                        raise _reject(field, url, f"the download broke off ({exc})") from None
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > max_bytes:
                        raise _reject(field, url, f"the download passed the {_size(max_bytes)} limit",
                                      "Use a shorter or smaller video.")
                    fh.write(chunk)
            if size == 0:
                raise _reject(field, url, "the server sent an empty file")
            os.replace(tmp, dest)
        finally:
            resp.release_conn()
            if tmp.exists():
                tmp.unlink()
        return FetchResult(url=url, final_url=current, path=dest, size=size,
                           content_type=(resp.headers.get("Content-Type") or "").split(";")[0].strip().lower(),
                           redirects=redirects)
    finally:
        manager.clear()


def send(url: str, method: str = "POST", *, body: bytes | Iterable[bytes] | None = None,
         headers: dict[str, str] | None = None, field: str = "callback_url", timeout_s: float = 10.0,
         max_response_bytes: int = 64 * 1024, allow_private: bool = False, policy: Policy | None = None) -> Response:
    """One request to a user-supplied URL (webhooks): checked at connect time, no redirects followed. An iterable
    ``body`` is streamed; give its ``Content-Length`` in ``headers`` (else it is sent chunked)."""
    policy = _policy(policy, allow_private)
    deadline = time.monotonic() + timeout_s
    parse_url(url, field=field, policy=policy)
    url_ref = [url]
    manager = _pool_manager(field, url_ref, policy)
    try:
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        resp = _open(manager, method, url, field=field, deadline=deadline, total_s=timeout_s, body=body,
                     headers=all_headers)
        try:
            data = b""
            while len(data) < max_response_bytes and time.monotonic() < deadline:
                chunk = resp.read1(CHUNK)
                if not chunk:
                    break
                data += chunk
        except (Urllib3HTTPError, OSError):
            pass  # the status line is what matters for a webhook
        finally:
            resp.release_conn()
        return Response(status=resp.status, headers=dict(resp.headers), body=data[:max_response_bytes], url=url)
    finally:
        manager.clear()


__all__ = ["Policy", "URLRejected", "Unreachable", "blocked_reason", "parse_url", "resolve_checked", "validate_url",
           "fetch", "send", "FetchResult", "Response"]
