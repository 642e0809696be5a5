"""template.yaml as AWS would deploy it (translated by aws-sam-translator, offline).

What these hold the template to: every alarm reaches a subscribed topic and has a runbook entry;
every function writes to a declared, KMS-encrypted, expiring log group; the escalation invokes the
`live` aliases that canary deployments shift; and every role has exactly the actions listed in
docs/reliability.md ("Function roles"), so a new permission is a reviewed line in that table.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sandbox.aws import load_template

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "operations.md"
RELIABILITY = ROOT / "docs" / "reliability.md"

# Internet-facing: reachable by anyone who can send an HTTP request or an email.
INTERNET_FACING = {"SmsWebhookFunction", "InboundEmailFunction", "CustomerPageFunction"}
# The roles SAM gives every function: logs, X-Ray, and (ours) the use of the data key.
BASELINE_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "DunningKeyUsePolicy",
}
# The template's own managed policies, shared by the roles that seal, anchor or verify the ledger,
# that send texts (the Alibaba Cloud SMS key) or that wake a waiting escalation; their statements
# count as the role's grants (and are in its row of the table).
SHARED_MANAGED = {"LedgerSealPolicy", "LedgerCloseAnchorPolicy", "LedgerVerifyPolicy", "AliyunSmsKeyPolicy",
                  "WakeEscalationPolicy", "LiveCasesPolicy"}
NEVER_GRANTED = {
    "s3:PutObjectAcl", "s3:PutLifecycleConfiguration", "s3:DeleteObject", "s3:DeleteObjectVersion",
    "ssm:DescribeParameters", "dynamodb:BatchWriteItem", "dynamodb:DeleteTable", "dynamodb:UpdateTable",
}


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@cache
def translated() -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sam = load_template()
    for logical_id, resource in sam["Resources"].items():
        props = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(uri), str):
                props[uri] = f"s3://artifacts/{logical_id}"
    params = {name: str(spec.get("Default", "")) for name, spec in sam["Parameters"].items()}
    params |= {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    return dict(transform(sam, params, _NoManagedPolicies()))


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in translated()["Resources"].items() if r["Type"] == kind}


# ---------------------------------------------------------------------------- alarms


def test_every_alarm_reports_to_a_topic_with_a_subscription_that_always_exists() -> None:
    subscriptions = resources("AWS::SNS::Subscription")
    unconditional = {r["Properties"]["TopicArn"]["Ref"] for r in subscriptions.values() if "Condition" not in r}
    alarms = resources("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 30
    for logical_id, alarm in alarms.items():
        actions = alarm["Properties"].get("AlarmActions", [])
        topics = {a["Ref"] for a in actions if isinstance(a, dict) and "Ref" in a}
        assert topics & unconditional, f"{logical_id} reaches no subscribed topic"


def test_the_alarm_email_is_required_at_deploy_time() -> None:
    rule = translated()["Rules"]["AlarmsReachSomeone"]["Assertions"][0]["Assert"]
    assert rule == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    (email,) = [s for s in resources("AWS::SNS::Subscription").values() if s["Properties"]["Protocol"] == "email"]
    assert email["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_every_alarm_has_a_runbook_entry() -> None:
    runbook = RUNBOOK.read_text("utf-8")
    headings = set(re.findall(r"^#{2,4} .*?`(\w+Alarm)`", runbook, re.M))
    missing = sorted(set(resources("AWS::CloudWatch::Alarm")) - headings)
    assert not missing, f"no runbook entry in docs/operations.md for {missing}"
    stale = sorted(headings - set(resources("AWS::CloudWatch::Alarm")))
    assert not stale, f"runbook entries for alarms the template no longer has: {stale}"
    for alarm in resources("AWS::CloudWatch::Alarm"):
        section = runbook.split(f"`{alarm}`", 1)[1].split("\n#", 1)[0]
        for part in ("Means", "Check", "Do"):
            assert f"**{part}**" in section, f"{alarm}'s runbook entry has no {part}"


def test_every_function_has_an_errors_alarm() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    for function in resources("AWS::Lambda::Function"):
        name = function.removesuffix("Function")
        assert f"{name}ErrorsAlarm" in alarms, f"{function} has no {name}ErrorsAlarm"


def test_missing_data_means_harm_for_the_runs_that_must_happen() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    for logical_id in ("SweepMissedAlarm", "WeeklyReportMissedAlarm"):
        assert alarms[logical_id]["Properties"]["TreatMissingData"] == "breaching"


def test_the_ledger_alarm_watches_the_metric_the_code_emits() -> None:
    emitted = set(re.findall(r'add_metric\(name="(\w+)"', "".join(
        p.read_text("utf-8") for p in (ROOT / "shared" / "dunning").rglob("*.py"))))
    watched = {a["Properties"].get("MetricName") for a in resources("AWS::CloudWatch::Alarm").values()}
    for metric in ("LedgerChainBroken", "PolicyRefused", "ReportsWritten", "UncertainSends"):
        assert metric in watched
        assert metric in emitted or metric == "UncertainSends"  # counted through observability.count


# ---------------------------------------------------------------------------- logs, aliases, DLQs


def test_every_function_writes_to_its_declared_encrypted_expiring_log_group() -> None:
    groups = resources("AWS::Logs::LogGroup")
    for logical_id, function in resources("AWS::Lambda::Function").items():
        ref = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        group = groups[ref]["Properties"]
        assert ref == logical_id.removesuffix("Function") + "LogGroup"
        assert "KmsKeyId" in group and "RetentionInDays" in group, ref
    for logical_id, group in groups.items():
        assert {"KmsKeyId", "RetentionInDays"} <= set(group["Properties"]), logical_id


def test_the_escalation_invokes_the_live_aliases_that_canaries_shift() -> None:
    machine = resources("AWS::StepFunctions::StateMachine")["EscalationStateMachine"]["Properties"]
    substitutions = machine["DefinitionSubstitutions"]
    assert substitutions == {
        "PlanNextActionFunctionArn": {"Ref": "PlanNextActionFunctionAliaslive"},
        "AgentTaskFunctionArn": {"Ref": "AgentTaskFunctionAliaslive"},
        "RecordFailureFunctionArn": {"Ref": "RecordFailureFunctionAliaslive"},
    }
    groups = resources("AWS::CodeDeploy::DeploymentGroup")
    for step in ("PlanNextAction", "AgentTask", "RecordFailure"):
        group = groups[f"{step}FunctionDeploymentGroup"]["Properties"]
        assert group["AutoRollbackConfiguration"]["Enabled"] is True
        alarms = {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]}
        assert f"{step}ErrorsAlarm" in alarms


def test_a_bad_planner_rolls_back_on_uncertain_or_blocked_notices_and_a_bad_webhook_on_403s() -> None:
    groups = resources("AWS::CodeDeploy::DeploymentGroup")

    def alarms(function: str) -> set[str]:
        config = groups[f"{function}DeploymentGroup"]["Properties"]["AlarmConfiguration"]
        return {a["Name"]["Ref"] for a in config["Alarms"]}

    assert {"UncertainSendsAlarm", "NoticesBlockedAlarm"} <= alarms("PlanNextActionFunction")
    assert "WebhookRejectedAlarm" in alarms("SmsWebhookFunction")


def test_payments_and_schedules_that_cannot_be_delivered_are_parked_not_dropped() -> None:
    rule = resources("AWS::Events::Rule")["ApplyPaymentFunctionPaymentPosted"]["Properties"]
    (target,) = rule["Targets"]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["PaymentPostedDLQ", "Arn"]}
    schedules = resources("AWS::Scheduler::Schedule")
    assert len(schedules) == 4  # the sweep twice a day, the weekly report, the hourly ledger anchor
    for logical_id, schedule in schedules.items():
        dlq = schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"]
        assert dlq == {"Fn::GetAtt": ["SchedulesDLQ", "Arn"]}, logical_id


def test_published_policies_are_kept_as_unerasable_versions() -> None:
    bucket = resources("AWS::S3::Bucket")["PolicyBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Years"] >= 5


def test_secrets_are_created_encrypted_and_generated() -> None:
    secrets = resources("AWS::SecretsManager::Secret")
    assert set(secrets) == {"LinkSigningKeySecret", "WebhookSecret"}
    for secret in secrets.values():
        props = secret["Properties"]
        assert props["KmsKeyId"] == {"Ref": "DunningKey"}
        assert props["GenerateSecretString"]["PasswordLength"] >= 48


def test_the_readme_and_the_template_agree_on_where_the_policy_and_dashboard_are() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    sam = load_template()
    assert f"s3://dunning-<stage>-policy-<account>-<region>/{sam['Parameters']['PolicyKey']['Default']}" in readme
    dashboard = sam["Resources"]["CollectionsDashboard"]["Properties"]["DashboardName"]["Fn::Sub"]
    assert dashboard.replace("${Stage}", "<stage>") in readme


# ---------------------------------------------------------------------------- roles


def _resource_name(value: Any) -> str:
    """A statement's Resource as the table writes it: logical ids, not ARN syntax."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        ref = str(value["Ref"])
        return f"{ref.removesuffix('Aliaslive')}:live" if ref.endswith("Aliaslive") else ref
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return logical_id if attribute == "Arn" else f"{logical_id}.{attribute}"
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        for name, var in variables.items():
            if isinstance(var, dict) and "Fn::GetAtt" in var:
                text = text.replace("${" + name + "}", var["Fn::GetAtt"][0])
        text = re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text)
        text = text.replace("arn:${AWS::Partition}:", "").replace(":${AWS::Region}:${AWS::AccountId}:", ":")
        return text.replace("s3:::dunning-${Stage}-incoming-${AWS::AccountId}-${AWS::Region}", "IncomingBucket")
    raise AssertionError(f"unexpected resource form {value!r}")


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(effect, action, resource) for every inline statement of a translated role, and of the
    template's own managed policies it carries."""
    out = set()
    documents = [policy["PolicyDocument"] for policy in role["Properties"].get("Policies", [])]
    managed = resources("AWS::IAM::ManagedPolicy")
    documents += [managed[m["Ref"]]["Properties"]["PolicyDocument"]
                  for m in role["Properties"].get("ManagedPolicyArns", [])
                  if isinstance(m, dict) and m.get("Ref") in SHARED_MANAGED]
    for document in documents:
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            out |= {(statement["Effect"], a, _resource_name(t)) for a in actions for t in targets}
    return out


def documented() -> dict[str, set[tuple[str, str, str]]]:
    """The "Function roles" table of docs/reliability.md: | role | effect | actions | resource |."""
    text = RELIABILITY.read_text("utf-8").split("## Function roles", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[tuple[str, str, str]]] = {}
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("role", "") or set(cells[0]) <= {"-", ":"}:
            continue
        role, effect, actions, resource = cells
        table.setdefault(role, set()).update(
            (effect, a.strip().strip("`"), resource) for a in actions.split(",") if a.strip())
    return table


ROLES = sorted([*(f"{f}Role" for f in resources("AWS::Lambda::Function")), "EscalationStateMachineRole"])


@pytest.mark.parametrize("role", ROLES)
def test_each_role_has_exactly_the_actions_in_the_documented_table(role: str) -> None:
    actual = granted(resources("AWS::IAM::Role")[role])
    expected = documented().get(role.removesuffix("Role"), set())
    assert actual == expected, (
        f"{role}: granted but not in docs/reliability.md: {sorted(actual - expected)}; "
        f"in the table but not granted: {sorted(expected - actual)}")


def test_the_table_names_no_role_the_template_lacks() -> None:
    assert set(documented()) == {r.removesuffix("Role") for r in ROLES}


@pytest.mark.parametrize("role", [r for r in ROLES if r != "EscalationStateMachineRole"])
def test_function_roles_carry_only_the_baseline_managed_policies(role: str) -> None:
    managed = {m if isinstance(m, str) else m["Ref"]
               for m in resources("AWS::IAM::Role")[role]["Properties"]["ManagedPolicyArns"]}
    extra = {"arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"} \
        if role == "AccountStreamFunctionRole" else set()  # SAM's stream-reading policy
    assert BASELINE_MANAGED | extra <= managed <= BASELINE_MANAGED | extra | SHARED_MANAGED


def test_only_the_report_may_scan_and_nothing_internet_facing_may_delete_from_the_ledger() -> None:
    for role in ROLES:
        grants = granted(resources("AWS::IAM::Role")[role])
        allowed = {(action, resource) for effect, action, resource in grants if effect == "Allow"}
        scans = {r for a, r in allowed if a == "dynamodb:Scan"}
        assert not scans or role == "ReportFunctionRole", role
        if role.removesuffix("Role") in INTERNET_FACING:
            assert not {a for a, r in allowed if r.startswith("CollectionsTable")} & {
                "dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:UpdateItem"}, role
        assert not {a for a, _ in allowed} & NEVER_GRANTED, role
        assert not any(a.endswith(":*") for a, _ in allowed), role


def test_sms_publishing_roles_can_reach_phone_numbers_only() -> None:
    for role in ROLES:
        grants = granted(resources("AWS::IAM::Role")[role])
        if ("Allow", "sns:Publish", "*") not in grants:
            continue
        if role == "PlanNextActionFunctionRole":
            # Also announces legal referrals; the topics taken as fact refuse it (next test).
            continue
        assert ("Deny", "sns:Publish", "sns:*:*:*") in grants, f"{role} may publish to any topic"


def test_topics_whose_messages_are_taken_as_fact_accept_only_their_aws_service() -> None:
    policies = resources("AWS::SNS::TopicPolicy")
    for topic in ("InboundSmsTopic", "EmailEventsTopic"):
        (policy,) = [p for p in policies.values() if p["Properties"]["Topics"] == [{"Ref": topic}]]
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Action"] == "sns:Publish" and s["Principal"] == "*"
                   and s["Condition"] == {"Bool": {"aws:PrincipalIsAWSService": "false"}} for s in denies), topic
