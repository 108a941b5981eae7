"""Error hierarchy.

A failed *check* is data in a report; an exception means "could not evaluate".
Every exception that reaches the user is an :class:`LtvError`, which knows its
one-line message, a hint about what to do next, and the CLI exit code.
"""

from __future__ import annotations


class LtvError(Exception):
    """Base class of every error ltv reports to a user."""

    exit_code: int = 4

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """One line for the user: what went wrong, and what to do next."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" (hint: {' '.join(self.hint.split())})"
        return text


class UsageError(LtvError):
    """The command line or an argument combination is wrong."""

    exit_code = 2


class InputError(LtvError):
    """An input file is unreadable, corrupt, or not what it claims to be."""

    exit_code = 4


class PolicyError(LtvError):
    """A validation or signing policy is invalid."""

    exit_code = 2


class TrustError(LtvError):
    """Trust anchors are missing or unusable."""

    exit_code = 2


class NetworkError(LtvError):
    """A network operation could not be carried out."""

    exit_code = 4


class SigningError(LtvError):
    """Signing was refused (e.g. evidence says revoked/unknown/offline)."""

    exit_code = 4
