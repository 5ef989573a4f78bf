"""The ops console: a static front end (HTML, CSS, JS modules) that only calls the public API.

Serve `CONSOLE_DIR` at `/console` (Starlette `StaticFiles(directory=CONSOLE_DIR, html=True)`
in the embedded mode; an nginx `alias` in the distributed mode).
"""

from __future__ import annotations

from pathlib import Path

CONSOLE_DIR: Path = Path(__file__).resolve().parent / "static"

__all__ = ["CONSOLE_DIR"]
