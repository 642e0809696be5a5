"""Peak Python memory of ImportAccounts on a 100,000-row file (not a test: run it by hand).

    .venv/bin/python tests/functions/measure_import_memory.py [rows]

S3 and DynamoDB are replaced by stand-ins that hold nothing (the object is generated while it is
read, writes are counted and dropped), so tracemalloc sees only what the import itself keeps.
"""

from __future__ import annotations

import io
import sys
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

from botocore.response import StreamingBody

from dunning.composition import AwsPorts
from dunning.domain.account_file import CSV_COLUMNS
from dunning.services import ingest
from dunning.settings import ImportSettings

HEADER = ",".join(CSV_COLUMNS) + "\r\n"
ROW = ("ACC-{i},Alex Morgan,4000123412341234,personal_loan,standard,+12125551234,alex{i}@example.com,en-US,"
       "America/New_York,US,USD,{p}.00,42.50,25.00,2026-11-20,CURRENT,,false\r\n")


class _Generated(io.RawIOBase):
    """A file that is produced as it is read: the object never exists in memory as a whole."""

    def __init__(self, rows: int) -> None:
        self._lines = self._make(rows)
        self._buf = b""

    @staticmethod
    def _make(rows: int) -> Iterator[bytes]:
        yield HEADER.encode()
        for i in range(rows):
            line = ROW.format(i=i, p=100 + i % 900)
            yield (line.replace("+12125551234", "+1555") if i % 1000 == 7 else line).encode()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            nxt = next(self._lines, None)
            if nxt is None:
                break
            self._buf += nxt
        out, self._buf = (self._buf, b"") if size < 0 else (self._buf[:size], self._buf[size:])
        return out


class _S3:
    def __init__(self, rows: int) -> None:
        self.rows, self.uploaded = rows, 0

    def get_object(self, **_: Any) -> dict[str, Any]:
        return {"Body": StreamingBody(_Generated(self.rows), None)}

    def upload_fileobj(self, fileobj: Any, *_: Any, **__: Any) -> None:
        self.uploaded = len(fileobj.read())

    def put_object(self, **_: Any) -> None:
        pass


class _Dynamo:
    def __init__(self) -> None:
        self.puts = 0

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        return {"Responses": {}}

    def put_item(self, **_: Any) -> None:
        self.puts += 1


class _Session:
    def __init__(self, rows: int) -> None:
        self.s3, self.db = _S3(rows), _Dynamo()

    def client(self, service: str) -> Any:
        return self.s3 if service == "s3" else self.db


def main(rows: int) -> None:
    settings = ImportSettings(accounts_table="Accounts", collections_table="Collections",
                              incoming_bucket="incoming", import_batch_size=100)
    session = _Session(rows)
    rt = AwsPorts(settings, session=session)
    tracemalloc.start()
    started = time.perf_counter()
    summary = ingest.import_file(rt, "incoming", "incoming/big.csv")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"rows={summary.rows} imported={summary.imported} rejected={summary.rejected} "
          f"puts={session.db.puts} rejects_bytes={session.s3.uploaded} "
          f"peak_traced={peak / 2**20:.1f} MiB elapsed={elapsed:.1f}s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
