#!/usr/bin/env python
"""Text2Video command line: `python manage.py --help` lists the commands.

`python manage.py` alone is `python manage.py serve`: the API, one worker and the web frontend on one machine.
"""
import os
import sys

# Run from a plain clone without `pip install -e .`: the package lives in backend/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "backend"))

from text2video.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
