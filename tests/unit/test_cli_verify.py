"""`dunning verify`: finds the stack's AdminFunction, asks it verify_case as the caller, reports."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sandbox.cli import main

STACK = "dunning-dev"
CALLER = "arn:aws:iam::123456789012:user/auditor"


class _Clients:
    """boto3 clients with stubbed answers, in the order the command asks."""

    def __init__(self, verdict: dict[str, Any] | None, function_error: str | None = None) -> None:
        self.clients = {name: boto3.client(name, region_name="us-east-1")
                        for name in ("cloudformation", "sts", "lambda")}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}
        self.stubs["cloudformation"].add_response("describe_stacks", {"Stacks": [{
            "StackName": STACK, "CreationTime": "2026-11-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE",
            "Outputs": [{"OutputKey": "AdminFunctionName", "OutputValue": "dunning-dev-Admin-abc"}]}]},
            {"StackName": STACK})
        self.stubs["sts"].add_response("get_caller_identity", {"Arn": CALLER, "Account": "123456789012",
                                                               "UserId": "AIDA"})
        payload = {"verified": verdict["verified"], **verdict} if verdict else {"errorMessage": "No such case"}
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(payload).encode())}
        if function_error:
            answer["FunctionError"] = function_error
        self.stubs["lambda"].add_response("invoke", answer, {
            "FunctionName": "dunning-dev-Admin-abc",
            "Payload": json.dumps({"command": {"type": "verify_case", "account_id": "acc-1",
                                               "case_id": "acc-1-20261102"}, "actor": CALLER}).encode()})
        for stub in self.stubs.values():
            stub.activate()

    def client(self, name: str, **_: Any) -> Any:
        return self.clients[name]


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(verdict: dict[str, Any] | None, function_error: str | None = None) -> _Clients:
        clients = _Clients(verdict, function_error)
        monkeypatch.setattr(boto3.session.Session, "client", lambda self, name, **kw: clients.client(name))
        return clients
    return install


def test_a_case_that_verifies_exits_0_and_says_so(answers: Any, capsys: pytest.CaptureFixture[str]) -> None:
    clients = answers({"verified": True, "summary": "case acc-1-20261102: 14 entries verify", "problems": []})
    assert main(["verify", "acc-1", "acc-1-20261102", "--stack-name", STACK]) == 0
    assert capsys.readouterr().out.startswith("OK case acc-1-20261102: 14 entries verify")
    for stub in clients.stubs.values():
        stub.assert_no_pending_responses()  # asked as the caller, of the stack's own admin function


def test_a_tampered_case_exits_1_and_names_the_first_entry(answers: Any, capsys: pytest.CaptureFixture[str]) -> None:
    answers({"verified": False, "summary": "case acc-1-20261102: seq 7 disagrees (HASH): entry hash",
             "problems": [{"seq": 7, "where": "CHAIN", "problem": "HASH", "detail": "entry hash"}]})
    assert main(["verify", "acc-1", "acc-1-20261102", "--stack-name", STACK]) == 1
    out = capsys.readouterr().out
    assert out.startswith("TAMPERED case acc-1-20261102: seq 7 disagrees") and "seq 7: CHAIN HASH" in out


def test_a_refused_question_exits_2_with_one_line(answers: Any, capsys: pytest.CaptureFixture[str]) -> None:
    answers(None, function_error="Unhandled")
    assert main(["verify", "acc-1", "acc-1-20261102", "--stack-name", STACK]) == 2
    err = capsys.readouterr().err
    assert err == "error: verify_case was refused: No such case\n"
