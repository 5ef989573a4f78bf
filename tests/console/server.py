"""The embedded platform with the console mounted at /console, as the tests run it (a real uvicorn).

`python -m tests.console.server PORT`. Until services/platform.py mounts the console itself,
this mounts `CONSOLE_DIR` the way the lead will (Starlette StaticFiles, html=True); once the
platform serves /console, its mount is used and this one is not added.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from services.console import CONSOLE_DIR
from services.platform import create_platform_app
from shared.config import PlatformSettings


def console_app(settings: PlatformSettings | None = None) -> FastAPI:
    """Return the embedded platform serving the console at /console."""
    app = create_platform_app(settings or PlatformSettings())
    if not any(isinstance(r, Mount) and r.path == "/console" for r in app.routes):
        app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    return app


if __name__ == "__main__":
    uvicorn.run(console_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
