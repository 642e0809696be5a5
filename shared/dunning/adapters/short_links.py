"""Short links: a short code stored in CollectionsTable, standing for a signed page token until
the token expires (DynamoDB's TTL removes the item after that).

The item holds the token only (an account id, a purpose and an expiry, signed): no name, number or
amount. A code is written only if new, so two notices never share one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from dunning.domain.links import is_short_code, new_short_code
from dunning.domain.models import to_utc

PREFIX = "LINK#"
_ATTEMPTS = 3  # a collision among 62^10 codes is already beyond belief


class DynamoShortLinks:
    def __init__(self, client: Any, table: str) -> None:
        self._db, self._table = client, table

    def shorten(self, token: str, expires_at: datetime) -> str:
        """A new code for ``token``, kept until ``expires_at``."""
        expiry = int(to_utc(expires_at).timestamp())
        for _ in range(_ATTEMPTS):
            code = new_short_code()
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item={"pk": {"S": PREFIX + code}, "sk": {"S": "LINK"}, "token": {"S": token},
                          "expires_at": {"N": str(expiry)}},
                    ConditionExpression="attribute_not_exists(pk)")
                return code
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        raise RuntimeError("no free short code")

    def resolve(self, code: str) -> str | None:
        """The token a code stands for; None for an unknown code. A token past its expiry is still
        returned (until TTL deletes it): the page then offers a fresh link, as for a long link."""
        if not is_short_code(code):
            return None
        item = self._db.get_item(TableName=self._table, Key={"pk": {"S": PREFIX + code}, "sk": {"S": "LINK"}},
                                 ConsistentRead=True).get("Item")
        return str(item["token"]["S"]) if item else None
