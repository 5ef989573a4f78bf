"""The console's tests: the embedded platform as a real uvicorn process, headless Chromium.

The browser is Debian's chromium (deploy/browser.sh installs it; `make test` runs that first),
driven by Playwright for Python through its executable_path: Playwright never downloads one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.console.scenario import Api, Scenario, build

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
TOKEN_KEY = "coupdemain.console.token"


@dataclass
class Platform:
    """The running platform: its URL, the API with tokens, and the data made for the tests."""

    url: str
    api: Api
    scenario: Scenario

    @property
    def console(self) -> str:
        return f"{self.url}/console/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait for /healthz to answer, failing at once if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the platform exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the platform did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    """Start the embedded platform (console mounted) on a free port with its own var dir and data."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="console-test-") as var_dir:
        env = {
            **os.environ,
            "COUPDEMAIN_VAR_DIR": var_dir,
            "COUPDEMAIN_PUBLIC_URL": url,
            "COUPDEMAIN_LOG_LEVEL": "WARNING",
            "MATCHING_BATCH_INTERVAL_S": "0.3",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("COUPDEMAIN_DATABASE_URL", None)
        env.pop("DATABASE_URL", None)
        env.pop("COUPDEMAIN_MODE", None)
        log = open(Path(var_dir) / "server.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.console.server", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        api = Api(url)
        try:
            wait_until_up(url, process)
            yield Platform(url=url, api=api, scenario=build(api))
        except Exception:
            log.flush()
            sys.stderr.write((Path(var_dir) / "server.log").read_text(errors="replace")[-4000:])
            raise
        finally:
            api.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


# Playwright's sync API keeps its own event loop running in this thread while it is open:
# close it with the module, or every asyncio test that runs after it would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: run `bash deploy/browser.sh` (make test does)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, platform: Platform) -> Iterator[Page]:
    """A fresh tab (its own sessionStorage) that fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"script errors in the page: {errors}"


def sign_in(page: Page, platform: Platform, route: str = "grids") -> None:
    """Sign in through the form with the ops token, then open a page of the console."""
    page.goto(platform.console)
    page.fill("#token", platform.api.ops["Authorization"].removeprefix("Bearer "))
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("#nav a.active")
    if route != "grids":
        page.goto(f"{platform.console}#/{route}")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under var/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
