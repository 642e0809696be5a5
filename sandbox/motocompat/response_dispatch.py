"""moto's response dispatch, minus the reflection it repeats on every call.

``BaseResponse.call_action`` asks ``method_names_from_class(self.__class__)`` on every request:
``inspect.getmembers`` over the whole handler class (hundreds of members for DynamoDB), ~2.4% of a
simulation's time. A class's functions do not change while it serves requests, so the list is
kept per class (and cleared when the patch is taken out).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from moto.core import responses

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(responses.method_names_from_class, "clazz")


def cached_method_names(names_of: Callable[[object], list[str]]) -> Callable[[object], list[str]]:
    known: dict[object, list[str]] = {}
    lock = threading.Lock()

    def method_names_from_class(clazz: object) -> list[str]:
        names = known.get(clazz)
        if names is None:
            names = names_of(clazz)
            with lock:
                known[clazz] = names
        return names

    return method_names_from_class


@contextmanager
def dispatch_without_reflection() -> Iterator[None]:
    with replaced(responses, "method_names_from_class", cached_method_names(responses.method_names_from_class)):
        yield
