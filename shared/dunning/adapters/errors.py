"""Exceptions the adapters raise instead of botocore's, so services can decide what they mean."""


class Conflict(Exception):
    """An optimistic-concurrency or at-most-once condition failed: someone else got there first."""


class NotFound(Exception):
    """The item asked for does not exist."""


class TransientError(Exception):
    """Throttling (the request was certainly not accepted) or a DynamoDB 5xx before anything was
    written: safe for the caller (Step Functions Retry) to try again. A provider 5xx is not one."""


class ProviderRejected(Exception):
    """The provider refused the message for good (bad address, unverified identity, opted out)."""
