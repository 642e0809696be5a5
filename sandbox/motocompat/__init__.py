"""Every place the sandbox patches moto or botocore, or reaches into moto's private state.

The table in README.md (beside this file) lists each patch: the symbol it replaces, why, and the
test that checks it answers as plain moto does. Importing this package checks the installed moto
and botocore against the versions the patches were written for (versions.py) and stops with
MotoVersionError on any other; each module also checks, when imported, that the signatures it
binds to by name are still there (patching.MotoShapeError).
"""

from sandbox.motocompat.versions import check_versions

check_versions()

from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from sandbox.motocompat.api_calls import reporting_calls  # noqa: E402
from sandbox.motocompat.dynamodb_items import items_sized_once  # noqa: E402
from sandbox.motocompat.dynamodb_queries import partition_queries  # noqa: E402
from sandbox.motocompat.dynamodb_streams import stream_records_numbered_in_order  # noqa: E402
from sandbox.motocompat.dynamodb_transactions import transactions_without_table_copies  # noqa: E402
from sandbox.motocompat.dynamodb_wire import item_responses_as_json  # noqa: E402
from sandbox.motocompat.lambda_invoke import FunctionConfig, redirect_invokes  # noqa: E402
from sandbox.motocompat.response_dispatch import dispatch_without_reflection  # noqa: E402
from sandbox.motocompat.sent_messages import Accepted, reporting_sends  # noqa: E402
from sandbox.motocompat.sfn_caches import interpreter_caches  # noqa: E402
from sandbox.motocompat.sfn_threads import one_thread_per_execution  # noqa: E402
from sandbox.motocompat.sfn_waits import ExecutionHandle, Run, TokenWait, redirect_waits  # noqa: E402
from sandbox.motocompat.sms_voice import SmsVoiceBackend, end_user_messaging, sms_voice_backend  # noqa: E402


@contextmanager
def faster_moto() -> Iterator[None]:
    """Where moto is slower than the service it imitates in ways that distort a simulation."""
    with (transactions_without_table_copies(), partition_queries(), item_responses_as_json(),
          items_sized_once(), interpreter_caches(), dispatch_without_reflection(), one_thread_per_execution()):
        yield


__all__ = [
    "Accepted",
    "ExecutionHandle",
    "FunctionConfig",
    "Run",
    "SmsVoiceBackend",
    "TokenWait",
    "end_user_messaging",
    "faster_moto",
    "one_thread_per_execution",
    "redirect_invokes",
    "redirect_waits",
    "reporting_calls",
    "reporting_sends",
    "sms_voice_backend",
    "stream_records_numbered_in_order",
]
