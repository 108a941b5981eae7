"""Policy presets, TOML loading (unknown keys rejected) and agreement with the JSON schema."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from ltv.errors import PolicyError, TrustError
from ltv.policy import PRESETS, Online, ValidationPolicy, load_policy, policy_from_mapping
from ltv.report import Level
from ltv.trust import TrustStore

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "policy.schema.json").read_text())
POLICIES = sorted((ROOT / "samples" / "policies").glob("*.toml"))


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def schema_ok(data: dict) -> bool:  # type: ignore[type-arg]
    v = jsonschema.Draft202012Validator(SCHEMA)
    return not list(v.iter_errors(_jsonable(data)))


def test_default_preset_is_offline() -> None:
    p = ValidationPolicy.preset("default")
    assert p.online is Online.NEVER and p.name == "default"
    with pytest.raises(TrustError):
        _ = p.signer_anchors


def test_policy_is_frozen_and_keyword_only() -> None:
    p = ValidationPolicy()
    with pytest.raises(AttributeError):
        p.online = Online.ALWAYS  # type: ignore[misc]
    with pytest.raises(TypeError):
        ValidationPolicy("x")  # type: ignore[misc]


def test_unknown_preset() -> None:
    with pytest.raises(PolicyError):
        ValidationPolicy.preset("nope")


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_sample_policies_load_and_match_schema(path: Path) -> None:
    data = tomllib.loads(path.read_text())
    assert schema_ok(data)
    policy = load_policy(path)
    assert policy.name == data.get("name", path.stem)


def test_full_policy(tmp_path: Path) -> None:
    import samples.pki as pki

    (tmp_path / "anchors").mkdir()
    (tmp_path / "anchors" / "root.pem").write_bytes(pki.cert_path("root").read_bytes())
    p = tmp_path / "p.toml"
    p.write_text(
        'name = "x"\nonline = "fallback"\ntrust = ["anchors"]\n'
        f'tsa_trust = "{pki.cert_path("tsa-root")}"\n'
        'max_evidence_age_hours = 12\nmin_level = "B-LT"\nunknown_is_fatal = true\n'
        "doc_timestamp_as_poe = false\n"
        '[[disallowed_algorithms]]\nalgorithm = "sha1"\nsince = 2016-01-01\n'
    )
    assert schema_ok(tomllib.loads(p.read_text()))
    pol = load_policy(p)
    assert pol.online is Online.FALLBACK and pol.min_level is Level.B_LT
    assert pol.max_evidence_age == timedelta(hours=12)
    assert pol.unknown_is_fatal and not pol.doc_timestamp_as_poe
    assert len(pol.signer_anchors) == 1 and len(pol.tsa_anchors) == 1
    assert pol.disallowed_algorithms[0].since == datetime(2016, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "data",
    [
        {"frobnicate": 1},
        {"online": "sometimes"},
        {"min_level": "B-X"},
        {"max_evidence_age_hours": -1},
        {"unknown_is_fatal": "yes"},
        {"disallowed_algorithms": [{"algorithm": "sha1"}]},
        {"disallowed_algorithms": [{"algorithm": "rot13", "since": "2020-01-01"}]},
        {"disallowed_algorithms": [{"algorithm": "sha1", "since": "2020-01-01", "x": 1}]},
    ],
)
def test_invalid_policies_rejected_by_both(data: dict) -> None:  # type: ignore[type-arg]
    assert not schema_ok(data)
    with pytest.raises(PolicyError):
        policy_from_mapping(data)


def test_bad_toml(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text("online = ")
    with pytest.raises(PolicyError):
        load_policy(p)


def test_presets_are_named() -> None:
    assert set(PRESETS) >= {"default", "fallback", "strict"}
    assert all(p.name == n for n, p in PRESETS.items())


def test_trust_store_rejects_empty_and_garbage(tmp_path: Path) -> None:
    with pytest.raises(TrustError):
        TrustStore(())
    with pytest.raises(TrustError):
        TrustStore.from_paths([tmp_path])
    bad = tmp_path / "x.pem"
    bad.write_bytes(b"not a cert")
    with pytest.raises(TrustError):
        TrustStore.from_paths([bad])
    with pytest.raises(TrustError):
        TrustStore.from_paths([tmp_path / "missing.pem"])
