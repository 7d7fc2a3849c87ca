"""Helpers to test the web application as an operator uses it: the real server in a subprocess
(``inference_main_app.py``), and Debian's headless Chromium driven by Playwright.

Chromium comes from the system (``apt-get install chromium``), never from ``playwright install``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or None. (Playwright itself is a dev requirement: its
    absence is an error, not a reason to skip.)"""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
    return None


# Limits for waits on a condition (a counter, a chart, a server line). They are generous because a
# busy shared machine can be ten times slower than a quiet one; a condition that never comes true
# still fails the test, only later. FACEMASK_TEST_WAIT scales them (2 = twice as long).
WAIT_SCALE = float(os.environ.get("FACEMASK_TEST_WAIT", "1"))
APP_WAIT_S = 180.0 * WAIT_SCALE
PAGE_WAIT_MS = int(120_000 * WAIT_SCALE)


@contextlib.contextmanager
def chromium_page(profile_dir: Path, width: int = 1440, height: int = 900) -> Iterator[Any]:
    """A page of a fresh headless Chromium profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile_dir), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
        )
        context.set_default_timeout(PAGE_WAIT_MS)  # every wait_for_* without its own limit
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


class AppProcess:
    """``inference_main_app.py`` on a free loopback port; ``stop()`` sends SIGTERM like a service manager."""

    def __init__(self, overrides: list[str], env: dict[str, str] | None = None, config: str = "configs/config-x86.json"):
        args = [sys.executable, str(REPO / "inference_main_app.py"), "--config", config, "--set", "app.port=0"]
        for item in overrides:
            args += ["--set", item]
        self.proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, **(env or {})}, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_for_url(timeout=APP_WAIT_S)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._lines.put(line)
        self._lines.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                break
            m = re.search(r"serving .* on (http://\S+/)", line)
            if m:
                return m.group(1)
        self.proc.kill()
        raise RuntimeError("the app did not start:\n" + "\n".join(self.lines[-30:]))

    def get(self, path: str, token: str | None = None, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of a GET; HTTP errors are returned, not raised."""
        req = urllib.request.Request(self.url.rstrip("/") + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, path: str, token: str | None = None) -> Any:
        status, _, body = self.get(path, token)
        assert status == 200, f"GET {path}: HTTP {status}: {body[:200]!r}"
        return json.loads(body)

    def wait_for(self, predicate, path: str, token: str | None = None, timeout: float = APP_WAIT_S, every: float = 0.5) -> Any:
        """Poll a JSON endpoint until ``predicate(data)`` holds; return that data."""
        deadline = time.monotonic() + timeout
        data = None
        while time.monotonic() < deadline:
            data = self.json(path, token)
            if predicate(data):
                return data
            time.sleep(every)
        raise AssertionError(f"timed out waiting on {path}; last answer: {json.dumps(data)[:800]}")

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
