"""Validation policy: a frozen, keyword-only spec with named presets, loadable from TOML.

Like pyhanko-certvalidator's ``policy_decl`` the policy is a *spec* (what to require), separate
from the stateful validation run. ``ValidationPolicy.preset("default")`` is the offline policy:
``online = never``, so verifying opens no socket.

TOML (validated against ``schemas/policy.schema.json``; unknown keys are a PolicyError)::

    name = "strict"
    preset = "default"            # start from a named preset, then override
    online = "never"              # never | fallback | always
    trust = ["anchors/"]          # signer trust anchors (paths relative to the TOML file)
    tsa_trust = ["tsa-root.pem"]  # TSA trust anchors (default: the signer anchors)
    trust_store = "~/.local/share/ltv/trust"  # EU trusted lists with history (ltv trust)
    max_evidence_age_hours = 24
    min_level = "B-LT"
    doc_timestamp_as_poe = true
    unknown_is_fatal = false
    tsa_revocation_required = false

    [limits]                      # resource limits (ltv.limits; defaults there)
    max_input_bytes = 2147483648
    max_objects = 2000000

    [[disallowed_algorithms]]
    algorithm = "sha1"
    since = 2016-01-01T00:00:00Z
    [[disallowed_algorithms]]
    algorithm = "rsa"
    min_key_size = 2048
    since = 2014-01-01T00:00:00Z
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ltv.errors import PolicyError
from ltv.limits import DEFAULT_LIMITS, Limits
from ltv.report import Level
from ltv.trust import TrustStore

if TYPE_CHECKING:
    from ltv.trustlists.store import TrustListStore

__all__ = [
    "PRESETS",
    "AlgorithmRule",
    "Online",
    "ValidationPolicy",
    "load_policy",
]


class Online(enum.StrEnum):
    """When verification may go online (through ltv.evidence's HttpClient only)."""

    NEVER = "never"
    """Default: a NoNetwork client; no socket is opened."""
    FALLBACK = "fallback"
    """Fetch only what the embedded evidence cannot settle."""
    ALWAYS = "always"
    """Fetch fresh evidence for every certificate, in addition to the embedded evidence."""


@dataclass(frozen=True, kw_only=True)
class AlgorithmRule:
    """An algorithm that is not acceptable for signatures whose proof of existence is at or
    after ``since`` (ETSI TS 119 312-style cut-off dates).

    ``algorithm`` is a digest (``md5``, ``sha1``...) or a key type (``rsa``, ``dsa``); for key
    types, ``min_key_size`` (bits) says what is still acceptable.
    """

    algorithm: str
    since: datetime
    min_key_size: int | None = None

    def describe(self) -> str:
        what = self.algorithm.upper()
        if self.min_key_size is not None:
            what += f" < {self.min_key_size} bits"
        return f"{what} (disallowed since {self.since.date().isoformat()})"


def _utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


DEFAULT_DISALLOWED: tuple[AlgorithmRule, ...] = (
    AlgorithmRule(algorithm="md5", since=_utc(2005, 1, 1)),
    AlgorithmRule(algorithm="md2", since=_utc(2005, 1, 1)),
    AlgorithmRule(algorithm="sha1", since=_utc(2016, 1, 1)),
    AlgorithmRule(algorithm="rsa", min_key_size=2048, since=_utc(2014, 1, 1)),
    AlgorithmRule(algorithm="dsa", min_key_size=2048, since=_utc(2014, 1, 1)),
)


@dataclass(frozen=True, kw_only=True)
class ValidationPolicy:
    """What a signature must satisfy, and what verification may do to find out."""

    name: str = "default"
    online: Online = Online.NEVER
    trust: TrustStore | None = None
    """Trust anchors for signer chains (explicit only; required to verify)."""
    tsa_trust: TrustStore | None = None
    """Trust anchors for TSA chains; ``None`` means: the signer anchors."""
    trust_store: TrustListStore | None = None  # trustlists:
    """Trusted lists with their history (``ltv trust``): a signer's chain is trusted when it
    ends at a CA service granted at the validation time, a TSA's when it ends at a TSA service
    granted at genTime; plus the store's plain anchors. Works together with ``trust``."""
    max_evidence_age: timedelta | None = None
    """How much older than the validation time an OCSP response / CRL may be. Evidence produced
    after the validation time proves the status at that time (ETSI EN 319 102-1 §5.2.5).
    ``None``: the validation time must lie in the evidence's [thisUpdate, nextUpdate]."""
    min_level: Level | None = None
    """Minimum PAdES level; a signature below it is INDETERMINATE / SIG_CONSTRAINTS_FAILURE."""
    disallowed_algorithms: tuple[AlgorithmRule, ...] = DEFAULT_DISALLOWED
    doc_timestamp_as_poe: bool = True
    """A document timestamp covering a signature may stand in for a missing signature
    timestamp (PAdES B-T allows either)."""
    unknown_is_fatal: bool = False
    """Any authoritative 'unknown' makes the certificate unknown, even beside a 'good'."""
    tsa_revocation_required: bool = False
    """If False, missing revocation evidence for a TSA chain is a warning, not INDETERMINATE
    (the outermost timestamp is judged at 'now', where stapled evidence is necessarily old)."""
    limits: Limits = DEFAULT_LIMITS
    """Resource limits on the input (``[limits]`` in TOML; see :mod:`ltv.limits`)."""

    @classmethod
    def preset(cls, name: str) -> ValidationPolicy:
        try:
            return PRESETS[name]
        except KeyError:
            raise PolicyError(
                f"unknown policy preset {name!r}", hint=f"one of: {', '.join(sorted(PRESETS))}"
            ) from None

    def with_trust(
        self, trust: TrustStore | None = None, tsa_trust: TrustStore | None = None
    ) -> ValidationPolicy:
        return replace(
            self,
            trust=trust if trust is not None else self.trust,
            tsa_trust=tsa_trust if tsa_trust is not None else self.tsa_trust,
        )

    def replace(self, **changes: Any) -> ValidationPolicy:
        return replace(self, **changes)

    def require_trust(self) -> None:  # trustlists:
        """TrustError (exit 2) unless some signer trust is given: PEM anchors or a trust
        store that holds something."""
        if self.trust is not None:
            return
        if self.trust_store is None:
            raise_no_trust()
        if self.trust_store.empty:
            from ltv.errors import TrustError

            raise TrustError(
                f"trust store {self.trust_store.path} holds no list and no anchor",
                hint="ltv trust import-lotl|import-tl|update|add --store DIR",
            )

    @property
    def signer_anchors(self) -> TrustStore:
        """Signer trust comes only from ``trust``: never borrowed from the TSA anchors (a TSA
        root vouches for time, not for who signed)."""
        if self.trust is None:
            return raise_no_trust()
        return self.trust

    @property
    def tsa_anchors(self) -> TrustStore:
        if self.tsa_trust is not None:
            return self.tsa_trust
        return self.signer_anchors


def raise_no_trust() -> NoReturn:
    from ltv.errors import TrustError

    raise TrustError(
        "no trust anchors given",
        hint="pass --trust PEM|DIR or --trust-store DIR (ltv never falls back to the system "
        "trust list)",
    )


PRESETS: dict[str, ValidationPolicy] = {
    "default": ValidationPolicy(name="default"),
    "fallback": ValidationPolicy(name="fallback", online=Online.FALLBACK),
    "online": ValidationPolicy(name="online", online=Online.ALWAYS),
    "strict": ValidationPolicy(
        name="strict",
        min_level=Level.B_LT,
        unknown_is_fatal=True,
        doc_timestamp_as_poe=False,
        tsa_revocation_required=True,
    ),
}

_KEYS = {
    "name",
    "preset",
    "online",
    "trust",
    "tsa_trust",
    "trust_store",
    "max_evidence_age_hours",
    "min_level",
    "doc_timestamp_as_poe",
    "unknown_is_fatal",
    "tsa_revocation_required",
    "disallowed_algorithms",
    "limits",
}
_RULE_KEYS = {"algorithm", "since", "min_key_size"}
_ALGORITHMS = {"md2", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "rsa", "dsa", "ecdsa"}


def _as_datetime(value: object, where: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PolicyError(f"{where}: datetime needs a UTC offset (e.g. 2016-01-01T00:00:00Z)")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as err:
            raise PolicyError(f"{where}: not an ISO-8601 date: {value!r}") from err
        return _as_datetime(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), where)
    raise PolicyError(f"{where}: expected a date, got {type(value).__name__}")


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise PolicyError(message, hint="see schemas/policy.schema.json")


def policy_from_mapping(data: dict[str, Any], *, base_dir: Path | None = None) -> ValidationPolicy:
    """Build a policy from parsed TOML; mirrors schemas/policy.schema.json exactly."""
    unknown = sorted(set(data) - _KEYS)
    _expect(not unknown, f"unknown policy key(s): {', '.join(unknown)}")
    base = ValidationPolicy.preset(str(data.get("preset", "default")))
    changes: dict[str, Any] = {}
    if "name" in data:
        _expect(isinstance(data["name"], str) and data["name"] != "", "name: non-empty string")
        changes["name"] = data["name"]
    if "online" in data:
        _expect(data["online"] in {o.value for o in Online}, "online: never|fallback|always")
        changes["online"] = Online(data["online"])
    for key in ("trust", "tsa_trust"):
        if key in data:
            value = data[key]
            if isinstance(value, str):
                value = [value]
            _expect(
                isinstance(value, list) and all(isinstance(v, str) for v in value) and bool(value),
                f"{key}: a path or a non-empty list of paths",
            )
            root = base_dir or Path.cwd()
            changes[key] = TrustStore.from_paths([root / v for v in value])
    if "trust_store" in data:  # trustlists:
        from ltv.trustlists.store import TrustListStore

        value = data["trust_store"]
        _expect(isinstance(value, str) and value != "", "trust_store: a directory path")
        changes["trust_store"] = TrustListStore.open(
            (base_dir or Path.cwd()) / Path(value).expanduser()
        )
    if "max_evidence_age_hours" in data:
        hours = data["max_evidence_age_hours"]
        _expect(
            isinstance(hours, int | float) and not isinstance(hours, bool) and hours >= 0,
            "max_evidence_age_hours: a number >= 0",
        )
        changes["max_evidence_age"] = timedelta(hours=hours)
    if "min_level" in data:
        _expect(data["min_level"] in {lv.value for lv in Level}, "min_level: B-B|B-T|B-LT|B-LTA")
        changes["min_level"] = Level(data["min_level"])
    for key in ("doc_timestamp_as_poe", "unknown_is_fatal", "tsa_revocation_required"):
        if key in data:
            _expect(isinstance(data[key], bool), f"{key}: true or false")
            changes[key] = data[key]
    if "disallowed_algorithms" in data:
        rules = data["disallowed_algorithms"]
        _expect(isinstance(rules, list), "disallowed_algorithms: an array of tables")
        parsed: list[AlgorithmRule] = []
        for i, rule in enumerate(rules):
            where = f"disallowed_algorithms[{i}]"
            _expect(isinstance(rule, dict), f"{where}: a table")
            extra = sorted(set(rule) - _RULE_KEYS)
            _expect(not extra, f"{where}: unknown key(s): {', '.join(extra)}")
            _expect("algorithm" in rule and "since" in rule, f"{where}: needs algorithm and since")
            algo = rule["algorithm"]
            _expect(
                isinstance(algo, str) and algo.lower() in _ALGORITHMS,
                f"{where}.algorithm: one of {', '.join(sorted(_ALGORITHMS))}",
            )
            size = rule.get("min_key_size")
            _expect(
                size is None or (isinstance(size, int) and not isinstance(size, bool) and size > 0),
                f"{where}.min_key_size: a positive integer",
            )
            parsed.append(
                AlgorithmRule(
                    algorithm=algo.lower(),
                    since=_as_datetime(rule["since"], f"{where}.since"),
                    min_key_size=size,
                )
            )
        changes["disallowed_algorithms"] = tuple(parsed)
    if "limits" in data:
        from ltv.limits import limits_from_mapping

        _expect(isinstance(data["limits"], dict), "limits: a table")
        try:
            changes["limits"] = limits_from_mapping(data["limits"], base.limits)
        except ValueError as err:
            raise PolicyError(f"limits: {err}", hint="see schemas/policy.schema.json") from None
    return replace(base, **changes)


def load_policy(path: str | Path) -> ValidationPolicy:
    """Read a TOML policy file (PolicyError, exit 2, on any problem)."""
    import tomllib

    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise PolicyError(f"{file}: cannot read policy: {err.strerror}") from err
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise PolicyError(f"{file}: not valid TOML: {err}") from err
    policy = policy_from_mapping(data, base_dir=file.parent)
    if "name" not in data:
        policy = replace(policy, name=file.stem)
    return policy
