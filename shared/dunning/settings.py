"""Function settings from environment variables, validated once at cold start.

A missing or malformed variable fails the cold start with a message naming it; there are no
silent defaults for anything that points at a resource.
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    pass


class BaseFunctionSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    accounts_table: str
    collections_table: str
    # An account's list of live cases is trusted when it was completed under this epoch (raised
    # after a rollback to a version that did not keep the lists: docs/operations.md).
    live_cases_epoch: int = Field(default=1, ge=1)
    # The published policy (PolicyBucket, docs/deploy.md); no bucket = the bundled default.
    policy_bucket: str | None = None
    policy_key: str = "policy.yaml"
    policy_max_age_seconds: int = 300
    legal_referrals_topic_arn: str | None = None
    # The KMS HMAC key that seals the ledger and keys personal fields; unset, nothing is sealed.
    ledger_key_id: str | None = None
    archive_bucket: str | None = None  # anchors, evidence exports (Object Lock)
    archive_lock_mode: str | None = None  # COMPLIANCE in prod, GOVERNANCE elsewhere

    @property
    def policy_location(self) -> str | None:
        """``s3://bucket/key`` of the published policy, or None for the bundled default."""
        return f"s3://{self.policy_bucket}/{self.policy_key}" if self.policy_bucket else None

    @property
    def policy_parameter_name(self) -> str | None:
        """Former name of ``policy_location`` (the policy lived in SSM), kept for existing callers."""
        return self.policy_location


class MessagingSettings(BaseFunctionSettings):
    ses_from_address: str
    ses_configuration_set: str
    link_secret_name: str
    pay_base_url: str = "https://pay.example.com"
    # The customer's page (GET/POST /p/{token} on HttpApi): every link in a notice opens it there.
    page_base_url: str | None = None
    # Where customers' email replies go (the SES receipt rule's recipient); none: to the From address.
    ses_reply_to_address: str | None = None
    # End User Messaging SMS: with a configuration set, SMS go through SendTextMessage and delivery
    # receipts come back (SmsEvents); without one, through SNS Publish, which reports none.
    sms_configuration_set: str | None = None
    sms_origination_identity: str | None = None  # pool, phone number or sender id; none: the service picks
    # Alibaba Cloud SMS for mainland numbers (the policy's sms_routes): a Secrets Manager secret
    # {"access_key_id": ..., "access_key_secret": ...} and the API endpoint.
    aliyun_sms_secret_name: str | None = None
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"


class PlanSettings(MessagingSettings):
    # skip traces (CallQueue) and vulnerable customers handed to a specialist (SpecialistQueue);
    # NotConfigured when one is due without its queue
    call_queue_url: str | None = None
    specialist_queue_url: str | None = None


class WorkflowSettings(BaseFunctionSettings):
    state_machine_arn: str
    link_secret_name: str  # keys the phone hash that lets replies find their account


class AgentTaskSettings(BaseFunctionSettings):
    call_queue_url: str
    legal_review_queue_url: str
    specialist_queue_url: str


class ImportSettings(BaseFunctionSettings):
    incoming_bucket: str
    import_batch_size: int = 25
    # Conditional puts in flight at once: on AWS each put's latency is what bounds an import; a
    # table on provisioned capacity may want fewer. 1 writes the rows in the file's order.
    import_write_workers: int = Field(default=16, ge=1, le=64)
    link_secret_name: str  # keys the hashes of the verification facts the customer's page asks


class ArchiveSettings(BaseFunctionSettings):
    archive_bucket: str


class AnchorSettings(BaseFunctionSettings):
    """The hourly anchor run: it needs the key and the bucket, both."""

    ledger_key_id: str
    archive_bucket: str





def load_settings[S: BaseSettings](cls: type[S]) -> S:
    """Read once per cold start by the function that owns the settings (never at import time)."""
    try:
        return cls()
    except ValidationError as exc:
        missing = ", ".join(".".join(str(p) for p in e["loc"]).upper() for e in exc.errors())
        raise SettingsError(f"{cls.__name__}: missing or invalid environment variables: {missing}") from exc


class PaymentSettings(MessagingSettings):
    """Payments are applied, then receipted to the customer in writing (payment_confirmation)."""

    idempotency_table: str


class SweepSettings(MessagingSettings):
    sweep_time_zone: str = "UTC"  # the zone "today" is taken in when the schedule gives no date


class ListeningSettings(MessagingSettings):
    """Replies, delivery events and admin actions: messaging plus the queues and secrets they use."""

    call_queue_url: str
    webhook_secret_name: str
    public_webhook_base_url: str
    idempotency_table: str
    agent_role_names: str = "CollectionsAgent"  # IAM roles whose callers are agents (may see a phone)
    # Alibaba Cloud SMS's push addresses (comma-separated CIDRs); empty: the push key alone
    aliyun_push_source_cidrs: str = ""


class PageSettings(MessagingSettings):
    """The customer's page: its public address (forms may come from its origin only), the guard's
    table (rate limits, one-time form keys) and the queue its call-backs and reviews go to."""

    page_base_url: str  # required here: the page must know its own origin
    idempotency_table: str
    call_queue_url: str
class InboundEmailSettings(ListeningSettings):
    """Email replies: SES's receipt rule stores each raw message under this bucket and prefix."""

    inbound_mail_bucket: str
    inbound_mail_prefix: str = "inbound/"
