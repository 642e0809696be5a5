"""moto's item construction, minus the size check it repeats for every attribute.

``Item.__init__`` fills a ``LimitedSizeDict`` one attribute at a time, and each insert sums the
size of every attribute already there (walking each value, encoding each string): a put of n
attributes costs n^2 size walks. A case header or a notice with its text is rewritten on most
commits, and this was 11.6% of a 300-account simulation's time (py-spy). Sizes only grow as
attributes are added, so checking the sum once, after the last, refuses exactly the items moto
refuses, with the same error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(Item.__init__, "hash_key", "range_key", "attrs")

# LimitedSizeDict's own bound (DynamoDB's 400 KB is enforced between 409 and 410 KB; moto picks 405,000)
ITEM_SIZE_LIMIT = 405_000


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    self.hash_key = hash_key
    self.range_key = range_key
    sized = LimitedSizeDict.__new__(LimitedSizeDict)
    total = 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        total += bytesize(key) + typed.size()
        dict.__setitem__(sized, key, typed)
    if total > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = sized


@contextmanager
def items_sized_once() -> Iterator[None]:
    with replaced(dynamo_type.Item, "__init__", _item_init):
        yield
