"""One file that trips a bug must not abort a batch: it is reported as not evaluable."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import ltv.pipeline.extract as extract_module
from ltv import TrustStore, ValidationPolicy, Verifier
from samples import pki
from tests.unit.pipeline import fixtures as fx

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_unexpected_exception_is_a_per_file_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    poison = (SAMPLES / "good-b-lt.pdf").read_bytes()
    real_extract = extract_module.extract

    def extract(data: Any, *args: Any) -> object:
        content = data if isinstance(data, bytes) else data.getvalue()
        if content == poison:
            raise RuntimeError("simulated ltv bug")
        return real_extract(data, *args)

    monkeypatch.setattr(extract_module, "extract", extract)
    verifier = Verifier(
        ValidationPolicy(
            trust=TrustStore.from_file(pki.cert_path("root")),
            tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root")),
        )
    )
    with caplog.at_level(logging.ERROR, logger="ltv.verify"):
        bad = verifier.verify(poison, path="poison.pdf", now=NOW)
    good = verifier.verify((SAMPLES / "good-b-lta.pdf").read_bytes(), now=NOW)

    assert bad.exit_code == 4 and bad.signatures == ()
    assert bad.error is not None
    assert "internal error RuntimeError: simulated ltv bug" in bad.error
    fx.assert_schema(bad.to_dict())
    assert any("poison.pdf" in r.getMessage() and r.exc_info for r in caplog.records)
    assert good.indication.value == "TOTAL-PASSED"
