"""Public list prices the cost model uses (bench.cost per 1,000 cases, `dunning simulate --compare`
per cure).

Prices are list prices as of November 2026 as we know them, rounded as AWS publishes them; they
change, and free tiers are ignored (they vanish at scale).
"""

from __future__ import annotations

PRICES_AS_OF = "2026-11 (us-east-1 public list prices; free tiers ignored)"
PRICES: dict[str, float] = {
    "lambda_arm_gb_second": 0.0000133334,  # arm64, first 6 billion GB-s a month
    "lambda_request": 0.20 / 1_000_000,
    "sfn_standard_transition": 0.025 / 1000,
    "ddb_write_request_unit": 0.625 / 1_000_000,  # on-demand (after the Nov 2024 price cut)
    "ddb_read_request_unit": 0.125 / 1_000_000,
    "sqs_request": 0.40 / 1_000_000,  # standard queue, per 64 KB chunk
    "sns_publish": 0.50 / 1_000_000,  # topic publishes (legal referrals, SES events)
    "ses_email": 0.10 / 1000,
    "sns_sms_us_part": 0.00581,  # base price per message part, US toll-free/10DLC, before carrier fees
    "us_carrier_fee_part": 0.003,  # typical 10DLC carrier pass-through per part (varies by carrier)
    "sms_cn_part": 0.035,  # AWS End User Messaging SMS to China, approximate per part (varies by route)
}
