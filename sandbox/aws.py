"""The dunning stack on a local AWS: moto in this process, handlers running in-process.

``local_aws()`` starts moto (with the real Step Functions interpreter and the compatibility
patches of sandbox.motocompat) and the in-process Lambda runtime (sandbox.lambda_runtime);
``provision()`` (sandbox.provision) creates template.yaml on it and returns the ``Stack``
(sandbox.stack). The names are re-exported here so ``from sandbox.aws import local_aws,
provision`` is all a test or a command needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from moto import mock_aws
from moto.core.config import DefaultConfig

from sandbox.aliyun_sms import aliyun_sms
from sandbox.lambda_runtime import (
    InProcessLambdaRuntime,
    LambdaContext,
    activated,
    active_runtime,
    call_kind,
    process_env,
)
from sandbox.motocompat import end_user_messaging, faster_moto, stream_records_numbered_in_order
from sandbox.provision import (
    ARTIFACT_BUCKET,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    REPO_ROOT,
    SANDBOX_PARAMETERS,
    TEMPLATE_PATH,
    load_template,
    provision,
    register_stack,
)
from sandbox.stack import HttpRoute, Resource, Schedule, Stack

# Lambda keeps moto's default (Docker) backend on purpose: its invoke path ends in
# LambdaFunction._invoke_lambda, which the in-process runtime replaces, so Docker is never touched.
# With "use_docker": False moto swaps in a backend that only echoes payloads and bypasses it.
MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
}

__all__ = [
    "ARTIFACT_BUCKET", "DEFAULT_REGION", "DEFAULT_STACK_NAME", "MOTO_CONFIG", "REPO_ROOT", "SANDBOX_PARAMETERS",
    "TEMPLATE_PATH", "HttpRoute", "InProcessLambdaRuntime", "LambdaContext", "Resource", "Schedule", "Stack",
    "active_runtime", "call_kind", "load_template", "local_aws", "provision", "register_stack",
]


@contextmanager
def local_aws(region: str = DEFAULT_REGION) -> Iterator[InProcessLambdaRuntime]:
    """moto with the Step Functions interpreter, fake credentials, TZ=UTC and in-process Lambda.

    Makes no sockets: everything below runs in this process.
    """
    values = {
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        # botocore 1.44 routes DynamoDB (streams) to account-id endpoints moto does not match.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        # Step Functions timestamp waits compare with naive local time.
        "TZ": "UTC",
    }
    try:
        with process_env(values):
            time.tzset()
            # moto has no End User Messaging SMS: the sandbox's stand-in answers it (sms_voice); nor
            # is there a network for Alibaba Cloud SMS: its stand-in answers mainland texts.
            with mock_aws(config=MOTO_CONFIG), faster_moto(), stream_records_numbered_in_order(), \
                    end_user_messaging(), aliyun_sms(), InProcessLambdaRuntime() as runtime, activated(runtime):
                yield runtime
    finally:
        time.tzset()
