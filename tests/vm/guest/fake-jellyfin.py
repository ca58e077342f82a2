#!/usr/bin/env python3
"""Jellyfin stand-in for the VM test bed (jellyfin.service in container.slice) and for host runs:
the REST API guardian uses, real ffmpeg HLS transcodes behind the sessions. See
jellyfin_standin/server.py for the endpoints and tests/vm/README.md for how the scenarios use it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jellyfin_standin.server import main  # noqa: E402

if __name__ == "__main__":
    main()
