"""BatchGetItem as DynamoDB answers it under load: what it leaves unprocessed is asked for again."""

from __future__ import annotations

from typing import Any

import pytest

from dunning.adapters import dynamo
from dunning.adapters.dynamo import batch_get_items


class Throttled:
    """Answers the first request with one key unprocessed, as DynamoDB does when throttled."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.requests.append(RequestItems)
        keys = RequestItems["T"]["Keys"]
        if len(self.requests) == 1:
            return {"Responses": {"T": [keys[0]]}, "UnprocessedKeys": {"T": {"Keys": keys[1:], "ConsistentRead": True}}}
        return {"Responses": {"T": keys}, "UnprocessedKeys": {}}


def test_unprocessed_keys_are_asked_for_again_after_a_pause_and_every_item_is_returned(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", pauses.append)
    client = Throttled()
    keys = [{"id": {"S": "a"}}, {"id": {"S": "b"}}]
    found = batch_get_items(client, {"T": {"Keys": keys, "ConsistentRead": True}})
    assert found == {"T": keys}
    assert client.requests[1] == {"T": {"Keys": keys[1:], "ConsistentRead": True}}  # only what was left
    assert pauses == [0.05]
