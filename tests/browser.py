"""Open a page in headless Chromium and report its DOM and its console errors (for HTML tests).

    from tests.browser import render
    page = render(tmp_path / "report.html")      # skips the test when Chromium is missing
    assert page.console_errors == []
    assert "<svg" in page.dom
    assert page.requests == []                   # nothing fetched besides the page itself

How: Debian's ``chromium`` is started headless with a fresh profile and
``--remote-debugging-pipe``; we speak the DevTools protocol over that pipe (fds 3 and 4,
NUL-separated JSON), which is reliable where parsing ``--enable-logging=stderr`` is not (log
format and verbosity change between versions, and stderr mixes in the browser's own noise).
Collected as console errors: ``Runtime.exceptionThrown`` (uncaught exceptions),
``Runtime.consoleAPICalled`` of type ``error``/``assert``, and ``Log.entryAdded`` at level
``error`` (failed loads, CSP violations, blocked mixed content...). ``Network.requestWillBeSent``
records every URL requested after the page itself. The page is loaded
(``Page.loadEventFired``), given a short settle time for late errors, then its
``document.documentElement.outerHTML`` is read. No network is used: pages are ``file://``
URLs (or loopback http); background networking, component updates and sync are off.

``make browser`` installs Chromium (as root, when missing); without it :func:`render` calls
``pytest.skip`` with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Rendered", "chromium_path", "render"]

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-pipe",
)


@dataclass(frozen=True)
class Rendered:
    dom: str
    """``document.documentElement.outerHTML`` after load."""
    console_errors: list[str]
    """Uncaught exceptions, console.error/assert calls and error log entries, one line each."""
    requests: list[str] = field(default_factory=list)
    """URLs the page requested after the page itself (a self-contained page has none)."""


def chromium_path() -> str | None:
    """Debian's ``chromium`` (or a ``chromium-browser``/``google-chrome``) on PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class _Pipe:
    """DevTools protocol over --remote-debugging-pipe: we write fd 3, Chromium writes fd 4."""

    def __init__(self, to_browser: int, from_browser: int, deadline: float) -> None:
        self._out = to_browser
        self._in = from_browser
        self._deadline = deadline
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._in], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._in, 65536)
            if not chunk:
                raise ConnectionError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        wanted = self.send(method, params, session)
        while True:
            message = self._read_message()
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str, timeout: float) -> bool:
        end = min(self._deadline, time.monotonic() + timeout)
        if any(e.get("method") == method for e in self.events):
            return True
        saved, self._deadline = self._deadline, end
        try:
            while True:
                message = self._read_message()
                if "method" in message:
                    self.events.append(message)
                    if message["method"] == method:
                        return True
        except TimeoutError:
            return False
        finally:
            self._deadline = saved

    def drain(self, seconds: float) -> None:
        """Collect events for ``seconds`` (late console errors)."""
        self.wait_event("\0never", seconds)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {})
            out.append(f"exception: {exc.get('description') or details.get('text', '?')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            out.append(f"console.{params['type']}: {' '.join(texts)}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                out.append(f"{entry.get('source', 'log')}: {entry.get('text', '')}")
    return out


def render(path_or_url: str | os.PathLike[str], *, timeout: float = 30.0) -> Rendered:
    """Load a page in headless Chromium; its DOM, console errors and extra requests.

    Calls ``pytest.skip`` when Chromium is not installed (``make browser`` installs it).
    """
    browser = chromium_path()
    if browser is None:
        pytest.skip("chromium is not installed (run `make browser` as root to install it)")
    target = str(path_or_url)
    if "://" not in target:
        target = Path(target).resolve().as_uri()
    deadline = time.monotonic() + timeout
    profile = tempfile.mkdtemp(prefix="ltv-chromium-")
    cmd_r, cmd_w = os.pipe()  # we write commands -> chromium reads fd 3
    ev_r, ev_w = os.pipe()  # chromium writes fd 4 -> we read

    def child_fds() -> None:  # runs in the child before exec: our pipe ends become fds 3, 4
        a, b = os.dup(cmd_r), os.dup(ev_w)  # (cmd_r/ev_w may themselves be 3 or 4)
        os.dup2(a, 3)
        os.dup2(b, 4)

    proc = subprocess.Popen(
        [browser, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=False,  # only inheritable fds pass (PEP 446): the dup2-ed 3 and 4
        preexec_fn=child_fds,
    )
    os.close(cmd_r)
    os.close(ev_w)
    pipe = _Pipe(cmd_w, ev_r, deadline)
    try:
        created = pipe.call("Target.createTarget", {"url": "about:blank"})
        attached = pipe.call(
            "Target.attachToTarget", {"targetId": created["targetId"], "flatten": True}
        )
        session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            pipe.call(f"{domain}.enable", session=session)
        pipe.events.clear()
        pipe.call("Page.navigate", {"url": target}, session=session)
        if not pipe.wait_event("Page.loadEventFired", max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"{target}: the page did not finish loading")
        pipe.drain(0.5)
        result = pipe.call(
            "Runtime.evaluate",
            {"expression": "document.documentElement.outerHTML", "returnByValue": True},
            session=session,
        )
        dom = str(result.get("result", {}).get("value", ""))
        requests = [
            str(e["params"]["request"]["url"])
            for e in pipe.events
            if e.get("method") == "Network.requestWillBeSent"
            and e["params"]["request"]["url"] != target
        ]
        with contextlib.suppress(Exception):
            pipe.send("Browser.close")
        return Rendered(dom=dom, console_errors=_errors(pipe.events), requests=requests)
    finally:
        os.close(cmd_w)
        os.close(ev_r)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(profile, ignore_errors=True)
