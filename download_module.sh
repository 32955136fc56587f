#!/bin/sh
# Fetch and verify the real models: the same as `python manage.py download [args]`.
#   sh download_module.sh                      # everything into ./models (about 11 GB)
#   sh download_module.sh --fp16 --only diffusion
#   sh download_module.sh --dry-run            # list files and sizes, fetch nothing
# HF_TOKEN / HF_ENDPOINT (Hub mirror) and TEXT2VIDEO_MODEL_ZOO_URL (OpenMMLab zoo mirror) are honoured.
set -e
cd "$(dirname "$0")"
if [ -z "$PYTHON" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" manage.py download "$@"
