"""A regular expression compiled on first use.

The reply reader holds a few hundred patterns; compiling them all costs about a tenth of a second,
which every Lambda that merely imports the reader (email events, admin) would pay at cold start.
``lazy(source)`` defers that to the first reply read, once per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator


class LazyRegex:
    """The slice of ``re.Pattern`` the domain uses, compiling the source the first time it is needed."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled

    def search(self, string: str, pos: int = 0) -> re.Match[str] | None:
        return self.compiled.search(string, pos)

    def match(self, string: str, pos: int = 0) -> re.Match[str] | None:
        return self.compiled.match(string, pos)

    def finditer(self, string: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
        if endpos is None:
            return self.compiled.finditer(string, pos)
        return self.compiled.finditer(string, pos, endpos)

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str) -> str:
        return self.compiled.sub(repl, string)


def lazy(source: str) -> LazyRegex:
    return LazyRegex(source)
