"""One memo for pure functions of a byte string that an archive meets again and again."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

__all__ = ["content_memo"]

T = TypeVar("T")


def content_memo(
    maxsize: int, max_bytes: int
) -> Callable[[Callable[[bytes], T]], Callable[[bytes], T]]:
    """Memoise ``fn(der)`` in a thread-safe LRU of ``maxsize`` entries, for inputs of at most
    ``max_bytes`` (a larger one is computed each time: the memo holds at most ``maxsize`` x
    ``max_bytes`` whatever the input). Exceptions are not kept. The plain function stays
    reachable as ``__wrapped__``; the returned value is shared, so it must only be read."""

    def wrap(fn: Callable[[bytes], T]) -> Callable[[bytes], T]:
        memo = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def call(der: bytes) -> T:
            return memo(der) if len(der) <= max_bytes else fn(der)

        return call

    return wrap
