"""``/api/v1/openapi.json`` and ``/api/v1/docs``: the API description, and the same rendered as one static page
(server-side HTML, no JavaScript, no CDN: it works on an offline box)."""

from __future__ import annotations

import html
import json
import re

from flask import Blueprint, Response, current_app, jsonify

from .openapi import build_openapi
from .services import get_settings

bp = Blueprint("docs", __name__, url_prefix="/api/v1")

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
.op{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:monospace}
.get{color:#0a7d32}.post{color:#0b5cad}.delete{color:#b3261e}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f6f6;padding:.6rem;overflow:auto;border-radius:4px}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #eee;padding:.25rem .4rem;text-align:left;
vertical-align:top}
"""


def openapi_document() -> dict:
    cached = current_app.extensions.get("text2video.openapi")
    if cached is None:
        cached = build_openapi(get_settings())
        current_app.extensions["text2video.openapi"] = cached
    return cached


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())


def _prose(text: str) -> str:
    """A description as HTML: escaped, its Markdown code spans (`x`, as OpenAPI allows) as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _schema_rows(schema: dict) -> str:
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        facts = []
        for key in ("default", "minimum", "maximum", "multipleOf", "maxLength", "enum", "format"):
            if key in prop:
                facts.append(f"{key}: {json.dumps(prop[key], ensure_ascii=False)}")
        kind = prop.get("type") or " | ".join(o.get("format", o.get("type", "")) for o in prop.get("oneOf", []))
        rows.append(f"<tr><td><code>{html.escape(name)}</code>{' <b>*</b>' if name in required else ''}</td>"
                    f"<td>{html.escape(str(kind))}</td><td>{_prose(prop.get('description', ''))}"
                    f"<br><small>{html.escape('; '.join(facts))}</small></td></tr>")
    return "<table><tr><th>field</th><th>type</th><th>meaning</th></tr>" + "".join(rows) + "</table>"


def render_docs(doc: dict) -> str:
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(doc['info']['title'])}"
             f"</title><meta name='viewport' content='width=device-width'><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(doc['info']['title'])} <small>{html.escape(doc['info']['version'])}</small></h1>",
             f"<p>{_prose(doc['info']['description'])}</p>",
             "<p>Machine-readable: <a href='/api/v1/openapi.json'>openapi.json</a> (OpenAPI 3.1). Authentication, "
             "when the server has API keys: <code>Authorization: Bearer &lt;key&gt;</code> or "
             "<code>X-API-Key: &lt;key&gt;</code>.</p><h2>Endpoints</h2>"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            parts.append(f"<div class='op' id='{html.escape(op.get('operationId', ''))}'><span class='m {method}'>"
                         f"{method.upper()}</span> <code>{html.escape(path)}</code> — "
                         f"{_prose(op.get('summary', ''))}")
            if op.get("description"):
                parts.append(f"<p>{_prose(op['description'])}</p>")
            params = item.get("parameters", []) + op.get("parameters", [])
            if params:
                parts.append("<p>Parameters: " + ", ".join(
                    f"<code>{html.escape(p['name'])}</code> ({p['in']})" for p in params) + "</p>")
            body = op.get("requestBody", {}).get("content", {})
            if body:
                media, content = next(iter(body.items()))
                parts.append(f"<p>Body ({html.escape(', '.join(body))}):</p>" + _schema_rows(content["schema"]))
            codes = ", ".join(f"<code>{c}</code> {_prose(r.get('description', ''))}"
                              for c, r in op.get("responses", {}).items())
            parts.append(f"<p><small>Responses: {codes}</small></p></div>")
    parts.append("<h2>Example</h2><pre>curl -F prompt='Cô gái nhảy trên núi' -F video=@dance.mp4 "
                 "http://127.0.0.1:8000/api/v1/jobs\ncurl http://127.0.0.1:8000/api/v1/jobs/&lt;id&gt;</pre>")
    parts.append("</body></html>")
    return "".join(parts)


@bp.get("/docs")
def docs_page():
    page = current_app.extensions.get("text2video.docs_html")
    if page is None:
        page = render_docs(openapi_document())
        current_app.extensions["text2video.docs_html"] = page
    return Response(page, mimetype="text/html")
