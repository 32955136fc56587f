"""``GET /api/v1/loras``: the style LoRAs installed in the models folder, for the web UI's picker and API callers.

Read from the safetensors headers in ``<models>/loras/`` (nothing is loaded). Each file says the kind of model it
fits (``fits``: sd1 = Follow-Your-Pose, wan = Wan2.1) and the model names it can be used with (``models``). Files
are installed by an operator; there is no upload.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..families import lora_models
from ..models.loras import DEFAULT_WEIGHT, MAX_LORAS, MAX_WEIGHT, MIN_WEIGHT, installed_loras
from .auth import require_key
from .services import get_settings

bp = Blueprint("loras", __name__, url_prefix="/api/v1/loras")


@bp.get("")
@require_key
def list_loras():
    found = installed_loras(get_settings().models_dir)
    listed = [{**f.to_dict(), "models": lora_models(f.fits, f.width)} for f in found]
    return jsonify({"loras": listed, "max_per_job": MAX_LORAS,
                    "weight": {"minimum": MIN_WEIGHT, "maximum": MAX_WEIGHT, "default": DEFAULT_WEIGHT}})
