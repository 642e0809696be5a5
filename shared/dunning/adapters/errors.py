"""Exceptions the adapters raise instead of botocore's, so services can decide what they mean."""


class Conflict(Exception):
    """An optimistic-concurrency or at-most-once condition failed: someone else got there first."""


class NotFound(Exception):
    """The item asked for does not exist."""


class TransientError(Exception):
    """Throttling or a provider 5xx: safe for the caller (Step Functions Retry) to try again."""


class ProviderRejected(Exception):
    """The provider refused the message for good (bad address, unverified identity, opted out)."""
