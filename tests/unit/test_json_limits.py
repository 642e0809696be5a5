"""JSON from outside is parsed within limits: depth, number size, no NaN or infinity."""

from __future__ import annotations

import pytest

from dunning.adapters import json_limits


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,  # json.loads would end in RecursionError
    '{"a":' * 33 + "1" + "}" * 33,
    "1e999999", "-1e999999", "1e-120", "NaN", "Infinity", "-Infinity", "9" * 5_000, "1" + "0" * 40,
    '{"amount": 1e999999}',
])
def test_documents_past_the_limits_are_a_value_error(text: str) -> None:
    with pytest.raises(json_limits.JSONLimitError):
        json_limits.loads(text)


def test_brackets_inside_strings_do_not_count_as_nesting_and_ordinary_documents_parse() -> None:
    assert json_limits.loads('{"text": "' + "[" * 1_000 + '\\"]"}') == {"text": "[" * 1_000 + '"]'}
    assert json_limits.loads(b'{"a": [1, 2.5, -3e5, true, null], "b": {"c": "d"}}') == {
        "a": [1, 2.5, -3e5, True, None], "b": {"c": "d"}}


def test_a_limit_error_is_a_value_error_and_names_no_content() -> None:
    with pytest.raises(ValueError, match="nested deeper than 32 levels") as refused:
        json_limits.loads('["secret", ' + "[" * 40 + "]" * 40 + "]")
    assert "secret" not in str(refused.value)
