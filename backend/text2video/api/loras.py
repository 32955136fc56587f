"""``GET /api/v1/loras``: the style LoRAs installed in the models folder, for the web UI's picker and API callers.

Read from the safetensors headers in ``<models>/loras/`` (nothing is loaded). Files are installed by an operator;
there is no upload.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..models.loras import DEFAULT_WEIGHT, MAX_LORAS, MAX_WEIGHT, MIN_WEIGHT, installed_loras
from .auth import require_key
from .services import get_settings

bp = Blueprint("loras", __name__, url_prefix="/api/v1/loras")


@bp.get("")
@require_key
def list_loras():
    found = installed_loras(get_settings().models_dir)
    return jsonify({"loras": [f.to_dict() for f in found], "max_per_job": MAX_LORAS,
                    "weight": {"minimum": MIN_WEIGHT, "maximum": MAX_WEIGHT, "default": DEFAULT_WEIGHT}})
