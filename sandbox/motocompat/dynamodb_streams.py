"""A table stream's records get their sequence numbers one writer at a time.

moto numbers a stream record ``len(shard.items) + start`` and then appends it, with no lock:
two threads writing the same table at once (ImportAccounts writes a batch's rows in parallel)
can give two records one number. A reader's iterator then goes ``AFTER`` the highest number it
saw, which is behind its position in the list, and it is served the same records for ever. On
DynamoDB every record has its own, increasing number; here the numbering and the append are made
one step under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models.table import StreamShard

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(StreamShard.add, "old", "new")


@contextmanager
def stream_records_numbered_in_order() -> Iterator[None]:
    lock = threading.Lock()

    def add(self: StreamShard, old: Any, new: Any) -> None:
        if self.table.lambda_event_source_mappings:
            # moto runs the mapped handler in here (the sandbox detaches mappings): never under the lock
            original(self, old, new)
            return
        with lock:
            original(self, old, new)

    with replaced(StreamShard, "add", add) as original:
        yield
