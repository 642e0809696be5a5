"""How a patch is put in and taken out again: by name, checked first, and always undone."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class MotoShapeError(RuntimeError):
    """A moto or botocore symbol a patch relies on is missing or takes other parameters."""


def require_parameters(function: Callable[..., Any], *names: str) -> inspect.Signature:
    """The signature of ``function``, after checking it still takes ``names`` (by name)."""
    signature = inspect.signature(function)
    missing = [name for name in names if name not in signature.parameters]
    if missing:
        raise MotoShapeError(f"{function.__qualname__} no longer takes {missing}: see sandbox/motocompat/README.md")
    return signature


@contextmanager
def replaced(owner: Any, name: str, value: Any) -> Iterator[Any]:
    """``owner.name`` is ``value`` for the duration; yields what callers got before.

    The owner's own entry is put back as it was (a staticmethod stays one; an attribute that was
    only inherited is removed again rather than copied down).
    """
    if not hasattr(owner, name):
        raise MotoShapeError(f"{getattr(owner, '__name__', owner)} has no {name}: see sandbox/motocompat/README.md")
    previous = getattr(owner, name)
    own = vars(owner)
    had_own, raw = name in own, own.get(name)
    setattr(owner, name, value)
    try:
        yield previous
    finally:
        if had_own:
            setattr(owner, name, raw)
        else:
            delattr(owner, name)
