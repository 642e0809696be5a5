"""CPU per moto request with and without sandbox.motocompat's dispatch cache (interleaved runs).

    .venv/bin/python -m bench.moto_dispatch
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import quiet_environment


def measure(calls: int = 1500, rounds: int = 4) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from sandbox.motocompat.response_dispatch import dispatch_without_reflection

    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
        db.put_item(TableName="t", Item={"pk": {"S": "a"}, "v": {"S": "x" * 500}})

        def cpu_us() -> float:
            started = time.process_time()
            for _ in range(calls):
                db.get_item(TableName="t", Key={"pk": {"S": "a"}}, ConsistentRead=True)
            return (time.process_time() - started) / calls * 1e6

        plain, cached = [], []
        for _ in range(rounds):
            plain.append(cpu_us())
            with dispatch_without_reflection():
                cached.append(cpu_us())
    return {"get_item_cpu_us_plain": round(statistics.median(plain)),
            "get_item_cpu_us_cached": round(statistics.median(cached))}


if __name__ == "__main__":
    quiet_environment()
    print(measure())
