"""``ltv`` run in the test's own process (``ltv.cli.main`` with ``sys.argv`` set), for tests
that need the process's state (a PKI server fixture, monkeypatched modules)."""

from __future__ import annotations

import sys

import pytest


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``ltv *args``."""
    from ltv.cli import main

    old = sys.argv
    sys.argv = ["ltv", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return code, out, err
