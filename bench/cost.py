"""USD per 1,000 cases from measured counts and public list prices (us-east-1).

Prices are list prices as of November 2026 as we know them, rounded as AWS publishes them; they
change, and free tiers are ignored (they vanish at scale). Only what the counts support is priced:
nothing here is more precise than its inputs.
"""

from __future__ import annotations

from typing import Any

from sandbox.costs import PRICES, PRICES_AS_OF


def per_thousand_cases(counts: dict[str, float], prices: dict[str, float] = PRICES) -> dict[str, Any]:
    """`counts` are per case: invocations, gb_seconds, transitions, rru, wru, sqs, sns, emails, sms_us,
    sms_cn."""
    lines = {
        "Lambda (arm64 GB-s)": counts["gb_seconds"] * prices["lambda_arm_gb_second"],
        "Lambda requests": counts["invocations"] * prices["lambda_request"],
        "Step Functions Standard transitions": counts["transitions"] * prices["sfn_standard_transition"],
        "DynamoDB on-demand reads": counts["rru"] * prices["ddb_read_request_unit"],
        "DynamoDB on-demand writes": counts["wru"] * prices["ddb_write_request_unit"],
        "SQS requests": counts["sqs"] * prices["sqs_request"],
        "SNS topic publishes": counts["sns"] * prices["sns_publish"],
    }
    infra = sum(lines.values())
    messages = {
        "SES email": counts["emails"] * prices["ses_email"],
        "SMS US (SNS base + carrier fee)": counts["sms_us"]
        * (prices["sns_sms_us_part"] + prices["us_carrier_fee_part"]),
        "SMS China": counts["sms_cn"] * prices["sms_cn_part"],
    }
    fees = sum(messages.values())
    return {
        "prices_as_of": PRICES_AS_OF,
        "infrastructure_usd_per_1000_cases": {k: round(v * 1000, 4) for k, v in lines.items()}
        | {"total": round(infra * 1000, 2)},
        "message_fees_usd_per_1000_cases": {k: round(v * 1000, 2) for k, v in messages.items()}
        | {"total": round(fees * 1000, 2)},
        "infrastructure_share_of_total": round(infra / (infra + fees), 3) if infra + fees else None,
    }
