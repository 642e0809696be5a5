"""template.yaml created on the local AWS, as `sam package` + CloudFormation would.

``provision()`` translates template.yaml with aws-sam-translator (offline), uploads the CodeUri /
ContentUri folders and the state machine definition to moto S3, creates the result through moto
CloudFormation, and repairs what moto gets wrong (see sandbox/motocompat/backends.py): the state
machine that executions read and its DefinitionSubstitutions, SNS subscriptions and SES
configuration sets it skips. The returned ``Stack`` lists what it skipped so the sandbox can
drive it (schedules, HTTP routes, SES configuration set events), and its functions are registered
with the in-process Lambda runtime.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

from sandbox.lambda_runtime import InProcessLambdaRuntime, active_runtime
from sandbox.motocompat import backends
from sandbox.stack import HttpRoute, Resource, Schedule, Stack

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "dunning-local"
ARTIFACT_BUCKET = "dunning-sandbox-artifacts"

# The translator warns about feature toggles that exist only in AWS's own deployment config: noise here.
logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)

# Parameters the sandbox deploys with (the template's defaults fill the rest).
SANDBOX_PARAMETERS: dict[str, str] = {
    "Stage": "local",
    "SesFromAddress": "collections@dunning.example",
    "PublicWebhookBaseUrl": "https://hooks.dunning.example",
    "PayBaseUrl": "https://pay.dunning.example",
}


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml as plain JSON data (short-form tags such as !Ref become Ref/Fn:: keys)."""
    return json.loads(json.dumps(cfn_yaml.loads(path.read_text(encoding="utf-8"), str(path))))


class _NoManagedPolicies:
    """SAM asks IAM for managed policy ARNs only for names it cannot resolve itself; offline, none."""

    def load(self) -> dict[str, str]:
        return {}


def provision(
    region: str = DEFAULT_REGION,
    *,
    template_path: Path = TEMPLATE_PATH,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: Mapping[str, str] | None = None,
    runtime: InProcessLambdaRuntime | None = None,
) -> Stack:
    """Create template.yaml on the active moto mock and return its physical names.

    Call inside ``local_aws()`` (or another ``mock_aws`` with ``MOTO_CONFIG``). Functions are
    registered with ``runtime`` (default: the active one) so invokes run the repo's handlers.
    """
    repo = template_path.resolve().parent
    sam = load_template(template_path)
    params = _parameter_values(sam, {**SANDBOX_PARAMETERS, **(parameters or {})})
    session = boto3.session.Session(region_name=region)
    account_id = session.client("sts").get_caller_identity()["Account"]

    code_dirs, asl_texts = _package(sam, repo, session)
    translated = transform(
        sam,
        {**params, "AWS::Region": region, "AWS::AccountId": account_id, "AWS::Partition": "aws"},
        _NoManagedPolicies(),
    )
    _invoke_functions_for_aliases(translated)
    substitutions = _fold_state_machines(translated, asl_texts)
    _inline_skipped_names(translated)

    cfn = session.client("cloudformation")
    stack_id = cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )["StackId"]
    described = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name} ended in {described['StackStatus']}")
    resource_map = backends.resource_map(account_id, region, stack_id)
    resources = {
        r["LogicalResourceId"]: Resource(
            r["LogicalResourceId"],
            r["ResourceType"],
            r.get("PhysicalResourceId") or backends.physical_name(resource_map, r["LogicalResourceId"]),
        )
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
        if "LogicalResourceId" in r  # moto lists the resources it skipped without an id
    }
    _subscribe_topics(translated, resources, resource_map, session)
    _create_configuration_sets(translated, resource_map, session)
    _restore_hmac_keys(translated, resources, account_id, region)

    definitions = _register_state_machines(resources, substitutions, resource_map, account_id, region)
    stack = Stack(
        name=stack_name,
        region=region,
        account_id=account_id,
        parameters=params,
        resources=resources,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        skipped=_skipped(translated, resources),
        schedules=_schedules(translated, resource_map),
        http_routes=_http_routes(sam),
        code_dirs=code_dirs,
        repaired=_repairs(translated),
        state_machine_definitions=definitions,
        template=translated,
    )
    runtime = runtime or active_runtime()
    if runtime is not None:
        register_stack(runtime, stack)
    return stack


def register_stack(runtime: InProcessLambdaRuntime, stack: Stack) -> None:
    for logical_id, code_dir in stack.code_dirs.items():
        if logical_id in stack.resources:
            runtime.register(stack.function_name(logical_id), code_dir)


# --------------------------------------------------------------------------- provisioning steps


def _parameter_values(sam: dict[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    declared = sam.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise KeyError(f"template has no parameters {sorted(unknown)}")
    values = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    values.update(overrides)
    missing = set(declared) - set(values)
    if missing:
        raise KeyError(f"parameters without a value: {sorted(missing)}")
    return values


def _zip_folder(folder: Path) -> bytes:
    """A reproducible zip of a CodeUri folder (what `sam package` uploads); empty if absent."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    info = zipfile.ZipInfo(str(path.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _package(
    sam: dict[str, Any], repo: Path, session: boto3.session.Session
) -> tuple[dict[str, Path], dict[str, str]]:
    """Upload local CodeUri/ContentUri folders to moto S3 and point the template at them.

    Returns the function code folders by logical id and the raw ASL of each state machine.
    """
    s3 = session.client("s3")
    region = session.region_name
    if region == "us-east-1":
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    else:
        s3.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    code_dirs: dict[str, Path] = {}
    asl_texts: dict[str, str] = {}
    for logical_id, resource in sam.get("Resources", {}).items():
        props = resource.get("Properties", {})
        kind = resource.get("Type")
        uri_key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(
            kind
        )
        if uri_key and isinstance(props.get(uri_key), str) and not props[uri_key].startswith("s3://"):
            folder = (repo / props[uri_key]).resolve()
            key = f"{logical_id}.zip"
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=_zip_folder(folder))
            props[uri_key] = f"s3://{ARTIFACT_BUCKET}/{key}"
            if kind == "AWS::Serverless::Function":
                code_dirs[logical_id] = folder
        if kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            text = (repo / props["DefinitionUri"]).read_text(encoding="utf-8")
            key = f"{logical_id}.asl.json"
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=text.encode())
            props["DefinitionUri"] = f"s3://{ARTIFACT_BUCKET}/{key}"
            asl_texts[logical_id] = text
    return code_dirs, asl_texts


def _invoke_functions_for_aliases(translated: dict[str, Any]) -> None:
    """moto does not model AWS::Lambda::Alias (AutoPublishAlias): whatever invokes an alias (the
    state machine, subscriptions, permissions) invokes its function instead; locally there is
    one version of each function, so that is the code the alias would run."""
    aliases = {
        logical_id: resource["Properties"]["FunctionName"]["Ref"]
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Alias"
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in aliases:
                return {"Fn::GetAtt": [aliases[node["Ref"]], "Arn"]}
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    for logical_id, resource in translated["Resources"].items():
        if logical_id not in aliases:
            translated["Resources"][logical_id] = walk(resource)


def _fold_state_machines(translated: dict[str, Any], asl_texts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """moto reads neither DefinitionS3Location nor DefinitionSubstitutions: inline the raw ASL.

    Substitutions are applied after creation (``_register_state_machines``), not with Fn::Sub:
    moto's Fn::Sub uses string.Template, which would turn ``$$.Task.Token`` into ``$.Task.Token``.
    """
    substitutions: dict[str, dict[str, Any]] = {}
    for logical_id, text in asl_texts.items():
        props = translated["Resources"][logical_id]["Properties"]
        props.pop("DefinitionS3Location", None)
        substitutions[logical_id] = props.pop("DefinitionSubstitutions", {})
        props["DefinitionString"] = text
    return substitutions


def _substitute(text: str, values: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"definition placeholder ${{{name}}} has no substitution")
        return values[name]

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", replace, text)


def _register_state_machines(
    resources: dict[str, Resource],
    substitutions: dict[str, dict[str, Any]],
    resource_map: backends.ResourceMap,
    account_id: str,
    region: str,
) -> dict[str, str]:
    """CloudFormation puts state machines where StartExecution does not look: recreate them there."""
    definitions: dict[str, str] = {}
    for logical_id, raw in substitutions.items():
        arn = resources[logical_id].physical_id
        values = {name: str(backends.resolve(value, resource_map)) for name, value in raw.items()}
        definition = _substitute(backends.created_definition(account_id, region, arn), values)
        json.loads(definition)  # a substitution must never break the JSON
        backends.make_executable(account_id, region, arn, definition)
        definitions[logical_id] = definition
    return definitions


# Resources moto CloudFormation skips but whose Ref (their name) other resources use.
_SKIPPED_NAME_PROPERTY = {"AWS::SES::ConfigurationSet": "Name",
                          "AWS::SMSVOICE::ConfigurationSet": "ConfigurationSetName"}


def _inline_skipped_names(translated: dict[str, Any]) -> None:
    """Replace ``Ref`` to a skipped named resource with its name (moto would drop the value)."""
    names = {
        logical_id: resource["Properties"][_SKIPPED_NAME_PROPERTY[resource["Type"]]]
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] in _SKIPPED_NAME_PROPERTY
        and _SKIPPED_NAME_PROPERTY[resource["Type"]] in resource.get("Properties", {})
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in names:
                return names[node["Ref"]]
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    for logical_id, resource in translated["Resources"].items():
        if logical_id not in names:
            translated["Resources"][logical_id] = walk(resource)
    translated["Outputs"] = walk(translated.get("Outputs", {}))


def _create_configuration_sets(
    translated: dict[str, Any], resource_map: backends.ResourceMap, session: boto3.session.Session
) -> None:
    """Create the SES and End User Messaging SMS configuration sets moto CloudFormation skips
    (sending with one needs it); the SMS ones with their SNS event destinations, on the stand-in."""
    ses = session.client("ses")
    for _logical_id, resource in sorted(translated["Resources"].items()):
        if resource["Type"] == "AWS::SES::ConfigurationSet":
            name = str(backends.resolve(resource["Properties"]["Name"], resource_map))
            ses.create_configuration_set(ConfigurationSet={"Name": name})
        if resource["Type"] == "AWS::SMSVOICE::ConfigurationSet":
            props = backends.resolve(resource["Properties"], resource_map)
            sms = session.client("pinpoint-sms-voice-v2")
            name = str(props["ConfigurationSetName"])
            sms.create_configuration_set(ConfigurationSetName=name)
            for destination in props.get("EventDestinations", []):
                sns = destination.get("SnsDestination")
                sms.create_event_destination(
                    ConfigurationSetName=name, EventDestinationName=str(destination["EventDestinationName"]),
                    MatchingEventTypes=list(destination["MatchingEventTypes"]),
                    **({"SnsDestination": {"TopicArn": str(sns["TopicArn"])}} if sns else {}))


def _subscribe_topics(
    translated: dict[str, Any],
    resources: dict[str, Resource],
    resource_map: backends.ResourceMap,
    session: boto3.session.Session,
) -> None:
    """moto CloudFormation skips AWS::SNS::Subscription: subscribe the functions ourselves."""
    sns = session.client("sns")
    for _logical_id, resource in sorted(translated["Resources"].items()):
        if resource["Type"] != "AWS::SNS::Subscription":
            continue
        props = backends.resolve(resource["Properties"], resource_map)
        attributes = {}
        if "FilterPolicy" in props:
            attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        sns.subscribe(
            TopicArn=str(props["TopicArn"]),
            Protocol=str(props["Protocol"]),
            Endpoint=str(props["Endpoint"]),
            Attributes=attributes,
        )


def _restore_hmac_keys(translated: dict[str, Any], resources: dict[str, Resource], account_id: str,
                       region: str) -> None:
    """The ledger's HMAC key, which moto CloudFormation makes symmetric (motocompat.backends)."""
    for logical_id, resource in sorted(translated["Resources"].items()):
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::KMS::Key" and str(props.get("KeySpec", "")).startswith("HMAC_"):
            backends.restore_hmac_key(account_id, region, resources[logical_id].physical_id,
                                      str(props["KeySpec"]), str(props["KeyUsage"]))


def _repairs(translated: dict[str, Any]) -> dict[str, str]:
    what = {
        "AWS::SNS::Subscription": "subscribed through the SNS API",
        "AWS::SES::ConfigurationSet": "created through the SES API (events are not published)",
        "AWS::SMSVOICE::ConfigurationSet": "created on the sandbox's End User Messaging stand-in (sms_voice)",
        "AWS::StepFunctions::StateMachine": "substitutions applied; created in the executing backend",
        "AWS::KMS::Key": "HMAC key spec and usage restored (moto makes every key symmetric)",
    }
    return {
        logical_id: what[resource["Type"]]
        for logical_id, resource in sorted(translated["Resources"].items())
        if resource["Type"] in what
        and (resource["Type"] != "AWS::KMS::Key" or "KeySpec" in resource.get("Properties", {}))
    }


def _skipped(translated: dict[str, Any], resources: dict[str, Resource]) -> dict[str, str]:
    skipped = {}
    for logical_id, resource in translated["Resources"].items():
        kind = resource["Type"]
        if logical_id not in resources or not backends.is_modelled(kind):
            skipped[logical_id] = kind
    return dict(sorted(skipped.items()))


def _target_function(arn: Any) -> str:
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        return str(arn["Fn::GetAtt"][0])
    raise ValueError(f"schedule target is not a function of this template: {arn!r}")


def _schedules(translated: dict[str, Any], resource_map: backends.ResourceMap) -> list[Schedule]:
    schedules = []
    for logical_id, resource in sorted(translated["Resources"].items()):
        if resource["Type"] != "AWS::Scheduler::Schedule":
            continue
        props = resource["Properties"]
        target = props["Target"]
        timezone = props.get("ScheduleExpressionTimezone", "UTC")
        schedules.append(
            Schedule(
                logical_id=logical_id,
                function_logical_id=_target_function(target["Arn"]),
                expression=str(backends.resolve(props["ScheduleExpression"], resource_map)),
                timezone=str(backends.resolve(timezone, resource_map)),
                input=target.get("Input"),
                enabled=props.get("State", "ENABLED") == "ENABLED",
            )
        )
    return schedules


def _http_routes(sam: dict[str, Any]) -> list[HttpRoute]:
    routes = []
    for logical_id, resource in sorted(sam.get("Resources", {}).items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties", {})
            auth = props.get("Auth", {}).get("Authorizer", "NONE")
            routes.append(
                HttpRoute(logical_id, props.get("Method", "ANY").upper(), props.get("Path", "$default"), auth)
            )
    return routes
