"""The policy in force: an SSM override (Powertools Parameters, cached) or the bundled default.

A document that fails validation or the compliance lint is refused with a logged reason and the
last good policy stays in force; the process never runs without a valid policy.

No override parameter at all is the normal state of a new deployment (the template does not create
one: the bundled default is the policy until an admin writes an override). That answer is cached
like a value, so a function does not ask SSM again on every invocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dunning.domain.policy import Policy, PolicyError, default_policy, parse_policy
from dunning.observability import logger


class PolicyStore:
    def __init__(self, parameter_name: str | None, max_age: int = 300,
                 fetch: Callable[[str, int], str] | None = None, clock: Callable[[], float] = time.time) -> None:
        self._name, self._max_age = parameter_name, max_age
        self._fetch = fetch or _ssm_fetch
        self._clock = clock
        self._last_good: Policy | None = None
        self._last_text: str | None = None
        self._absent_until = float("-inf")
        self.refusals = 0

    def current(self) -> Policy:
        if not self._name or self._clock() < self._absent_until:
            return default_policy()
        try:
            text = self._fetch(self._name, self._max_age)
        except PolicyNotFound:
            if self._last_text is not None:  # an override was deleted: back to the bundled default
                logger.info("policy override removed; the bundled default is in force")
            self._absent_until = self._clock() + self._max_age
            self._last_good, self._last_text = None, None
            return default_policy()
        except Exception as exc:  # noqa: BLE001 - any fetch failure must fall back, not stop collections
            logger.warning("policy fetch failed; keeping the policy in force",
                           extra={"parameter": self._name, "error": type(exc).__name__})
            return self._last_good or default_policy()
        if text == self._last_text and self._last_good is not None:
            return self._last_good
        try:
            policy = parse_policy(text)
            from dunning.domain.policy_lint import policy_problems

            problems = policy_problems(policy)
            if problems:
                raise PolicyError(problems)
        except PolicyError as exc:
            self.refusals += 1
            self._last_text = text
            logger.error("policy refused; the last good policy stays in force",
                         extra={"parameter": self._name, "problems": exc.problems[:20]})
            return self._last_good or default_policy()
        self._last_good, self._last_text = policy, text
        logger.info("policy in force", extra={"policy_version": policy.version})
        return policy


class PolicyNotFound(LookupError):
    """No override parameter exists: the bundled default policy applies."""


def _ssm_fetch(name: str, max_age: int) -> str:
    from aws_lambda_powertools.utilities.parameters import get_parameter
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return str(get_parameter(name, max_age=max_age))
    except GetParameterError as exc:
        # Powertools wraps every error; the SDK's own error code is on the exception it replaced.
        cause = exc.__cause__ or exc.__context__
        code = getattr(cause, "response", {}).get("Error", {}).get("Code")
        if code == "ParameterNotFound":
            raise PolicyNotFound(name) from exc
        raise
