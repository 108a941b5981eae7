"""Prints the corpus agreement count in pytest's terminal summary (when the corpus ran)."""

from __future__ import annotations

import pytest

from tests.conformance.agreement import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = TALLY.line()
    if line is not None:
        terminalreporter.write_sep("-", "corpus conformance")
        terminalreporter.write_line(line)
