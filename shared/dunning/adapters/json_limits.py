"""JSON from outside, parsed within limits: nesting depth, number size, no NaN or infinity.

`json.loads` recurses once per nesting level (100,000 levels end in RecursionError, which no
caller expects), turns ``1e999999`` into infinity, takes ``NaN``, and builds integers thousands
of digits long. Every edge that parses a body a stranger can send (webhooks, POST /admin, SNS
messages) goes through `loads` instead: anything past the limits is a `JSONLimitError`, a
ValueError, which the edges already answer with a 4xx or drop as malformed.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32  # no body we accept nests more than a handful of levels
MAX_NUMBER_CHARS = 30  # money needs 15 integer digits and a few decimals; ids are strings
# What DynamoDB can store (38 digits, magnitudes 1E-130 to 1E+126), with room to spare: a number
# that reaches an item must not make the write fail.
_MAGNITUDE = (1e-100, 1e100)

# A JSON string literal (escapes included); what remains outside them is structure and scalars.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JSONLimitError(ValueError):
    """The document is JSON a stranger should not be able to make us parse (the message names the
    limit, never the content)."""


def _depth(text: str, limit: int) -> None:
    depth = 0
    for match in _BRACKETS.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                raise JSONLimitError(f"JSON nested deeper than {limit} levels")
        else:
            depth -= 1


def _number(limit: int, convert: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        if len(text) > limit:
            raise JSONLimitError(f"JSON number longer than {limit} characters")
        value = convert(text)
        if isinstance(value, float) and (not math.isfinite(value) or (
                value != 0 and not _MAGNITUDE[0] < abs(value) < _MAGNITUDE[1])):
            raise JSONLimitError("JSON number out of range")
        return value

    return parse


def _constant(name: str) -> Any:
    raise JSONLimitError(f"JSON constant {name} is not allowed")


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, max_number_chars: int = MAX_NUMBER_CHARS) -> Any:
    """`json.loads` within the limits; raises ValueError (JSONDecodeError or JSONLimitError)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    _depth(text, max_depth)
    return json.loads(text, parse_int=_number(max_number_chars, int),
                      parse_float=_number(max_number_chars, float), parse_constant=_constant)
