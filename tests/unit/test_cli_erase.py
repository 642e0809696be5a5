"""`dunning erase`: asks the stack's AdminFunction to erase_customer as the caller, with the request's
reference; a refusal (a case still open) exits 1, a question that could not be asked exits 2."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sandbox.cli import main

STACK = "dunning-dev"
CALLER = "arn:aws:iam::123456789012:user/dpo"
ARGS = ["erase", "acc-1", "--request", "PIPL-2026-0042", "--stack-name", STACK]


def _install(monkeypatch: pytest.MonkeyPatch, payload: dict[str, Any], function_error: str | None = None,
             outputs: bool = True) -> dict[str, Stubber]:
    clients = {name: boto3.client(name, region_name="us-east-1") for name in ("cloudformation", "sts", "lambda")}
    stubs = {name: Stubber(client) for name, client in clients.items()}
    stubs["cloudformation"].add_response("describe_stacks", {"Stacks": [{
        "StackName": STACK, "CreationTime": "2026-11-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": "AdminFunctionName", "OutputValue": "dunning-dev-Admin-abc"}] if outputs else []}]},
        {"StackName": STACK})
    if outputs:
        stubs["sts"].add_response("get_caller_identity", {"Arn": CALLER, "Account": "123456789012", "UserId": "A"})
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(payload).encode())}
        if function_error:
            answer["FunctionError"] = function_error
        stubs["lambda"].add_response("invoke", answer, {
            "FunctionName": "dunning-dev-Admin-abc",
            "Payload": json.dumps({"command": {"type": "erase_customer", "account_id": "acc-1",
                                               "request_id": "PIPL-2026-0042"}, "actor": CALLER}).encode()})
    for stub in stubs.values():
        stub.activate()
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, name, **kw: clients[name])
    return stubs


def test_an_erasure_names_the_cases_and_exits_0(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stubs = _install(monkeypatch, {"command": "erase_customer", "account_id": "acc-1", "applied": True,
                                   "case_status": "ERASED", "cases": ["acc-1-20261102"], "items_changed": 4})
    assert main(ARGS) == 0
    assert capsys.readouterr().out == ("ERASED account acc-1 (request PIPL-2026-0042): acc-1-20261102; "
                                       "4 stored items changed\n")
    for stub in stubs.values():
        stub.assert_no_pending_responses()  # asked as the caller, of the stack's own admin function


def test_an_open_case_refuses_the_erasure_with_exit_1(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _install(monkeypatch, {"errorType": "CommandRefused",
                           "errorMessage": "case acc-1-20261102 is still open or with legal: close it before erasing"},
             function_error="Unhandled")
    assert main(ARGS) == 1
    assert capsys.readouterr().err == ("error: erase_customer was refused: case acc-1-20261102 is still open "
                                       "or with legal: close it before erasing\n")


def test_a_stack_without_an_admin_function_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _install(monkeypatch, {}, outputs=False)
    assert main(ARGS) == 2
    assert capsys.readouterr().err == f"error: stack {STACK} has no AdminFunctionName output\n"
