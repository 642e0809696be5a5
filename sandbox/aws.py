"""The dunning stack on a local AWS: template.yaml on moto, handlers running in-process.

``local_aws()`` starts moto (with the real Step Functions interpreter) and points moto's Lambda
invoke at the handlers in this process; ``provision()`` translates template.yaml with
aws-sam-translator, creates it through moto CloudFormation and repairs what moto gets wrong
(see NOTES-local-aws.md): the state machine that executions read, its DefinitionSubstitutions,
and the resources moto silently skips, which the returned ``Stack`` lists so the sandbox can drive
them (schedules, HTTP routes, SES configuration set events).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from cfnlint.decode import cfn_yaml
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.parsing import NULL_MODELS, clean_json, get_model_map
from moto.core.config import DefaultConfig
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from samtranslator.translator.transform import transform

from sandbox.moto_patches import faster_moto

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "dunning-local"
ARTIFACT_BUCKET = "dunning-sandbox-artifacts"

# Lambda keeps moto's default (Docker) backend on purpose: its invoke path ends in
# LambdaFunction._invoke_lambda, which InProcessLambdaRuntime replaces, so Docker is never touched.
# With "use_docker": False moto swaps in a backend that only echoes payloads and bypasses it.
MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
}

# Parameters the sandbox deploys with (the template's defaults fill the rest).
SANDBOX_PARAMETERS: dict[str, str] = {
    "Stage": "local",
    "SesFromAddress": "collections@dunning.example",
    "PublicWebhookBaseUrl": "https://hooks.dunning.example",
    "PayBaseUrl": "https://pay.dunning.example",
}

# Handlers run in this process: X-Ray would try to reach a daemon over UDP, so tracing is off.
_IN_PROCESS_ENV: dict[str, str] = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_XRAY_SDK_ENABLED": "false",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
}

_ENV_LOCK = threading.Lock()


# =========================================================================== in-process Lambda


@dataclass(frozen=True)
class LambdaContext:
    """What the Lambda runtime hands a handler (the attributes Powertools reads)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


_READ_OPS = frozenset({"GetItem", "Query", "BatchGetItem", "TransactGetItems", "Scan"})
_WRITE_OPS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_SEND_OPS = frozenset({("sesv2", "SendEmail"), ("ses", "SendEmail"), ("sns", "Publish")})


def call_kind(service: str, operation: str) -> str:
    """reads / writes (DynamoDB), sends (SES, SNS to a phone), other (secrets, SSM, SQS, ...)."""
    if service == "dynamodb" and operation in _READ_OPS:
        return "reads"
    if service == "dynamodb" and operation in _WRITE_OPS:
        return "writes"
    if (service, operation) in _SEND_OPS:
        return "sends"
    return "other"


class InProcessLambdaRuntime:
    """Runs moto Lambda invocations as calls into ``<code dir>/<module>.py`` in this process.

    Every path that ends in a Lambda invoke on moto (direct invoke, Step Functions tasks, SNS
    subscriptions, EventBridge targets, event source mappings) lands in
    ``LambdaFunction._invoke_lambda``; this replaces that one method. Invocations are serialised
    (one at a time, re-entrant for nested invokes on the same thread) because each one sets the
    function's environment variables on the process, just as a Lambda sandbox would.
    """

    def __init__(self) -> None:
        self._code_dirs: dict[str, Path] = {}
        self._modules: dict[tuple[str, Path, str], ModuleType] = {}
        self._lock = threading.RLock()
        self._original: Any = None
        self._original_call: Any = None
        self._inside = threading.local()
        self.invocations: Counter[str] = Counter()
        # AWS API calls the system's own functions made ("service:Operation"), not the driver's.
        self.aws_calls: Counter[str] = Counter()

    # ------------------------------------------------------------------ setup

    def register(self, function_name: str, code_dir: str | Path) -> None:
        """Run ``function_name``'s handler from ``code_dir`` (its CodeUri folder)."""
        self._code_dirs[function_name] = Path(code_dir).resolve()

    def install(self) -> None:
        if self._original is not None:
            raise RuntimeError("in-process Lambda runtime already installed")
        self._original = LambdaFunction.__dict__["_invoke_lambda"]
        runtime = self

        def _invoke_lambda(fn: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return runtime.invoke(fn, event)

        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign,assignment]

        import botocore.client

        self._original_call = original_call = botocore.client.BaseClient._make_api_call

        def _make_api_call(client: Any, operation: str, params: Any) -> Any:
            if getattr(runtime._inside, "depth", 0):
                runtime.aws_calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
            return original_call(client, operation, params)

        botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            self._original = None
        if self._original_call is not None:
            import botocore.client

            botocore.client.BaseClient._make_api_call = self._original_call  # type: ignore[method-assign]
            self._original_call = None

    def __enter__(self) -> InProcessLambdaRuntime:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    # ------------------------------------------------------------------ invoke

    def invoke(self, fn: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """moto's contract: ``(payload_json, is_error, log_text)``; errors name the exception class."""
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        if event is None:
            event = {}
        with self._lock:
            self.invocations[fn.function_name] += 1
            count = self.invocations[fn.function_name]
            code_dir = self._code_dirs.get(fn.function_name)
            if code_dir is None:
                return _error("Runtime.ImportModuleError", f"no code registered for {fn.function_name}")
            module_name, _, attr = str(fn.handler).rpartition(".")
            source = code_dir / (module_name.replace(".", "/") + ".py")
            if not module_name or not source.is_file():
                return _error("Runtime.ImportModuleError", f"handler module not found: {fn.handler}")
            self._inside.depth = getattr(self._inside, "depth", 0) + 1
            with _process_env(self._environment(fn, code_dir)):
                try:
                    module = self._module(fn.function_name, code_dir, module_name, source)
                    handler = getattr(module, attr, None)
                    if handler is None:
                        return _error("Runtime.HandlerNotFound", f"{fn.handler} is undefined")
                    result = handler(event, self._context(fn, count))
                # The Lambda runtime boundary: any exception becomes an error payload that
                # Step Functions Retry/Catch match by class name, exactly as on AWS.
                except Exception as exc:  # noqa: BLE001
                    return _error(type(exc).__name__, str(exc))
                finally:
                    self._inside.depth -= 1
            try:
                return json.dumps(result), False, ""
            except (TypeError, ValueError) as exc:
                return _error("Runtime.MarshalError", str(exc))

    def _module(self, function_name: str, code_dir: Path, module_name: str, source: Path) -> ModuleType:
        # One module per function, like one warm Lambda sandbox: module state survives between
        # invocations of the same function and never leaks into another one's `app`.
        key = (function_name, code_dir, module_name)
        module = self._modules.get(key)
        if module is None:
            unique = "_dunning_lambda_" + re.sub(r"\W", "_", f"{function_name}__{module_name}")
            spec = importlib.util.spec_from_file_location(unique, source)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {source}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module  # pydantic and dataclasses look their module up here
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(unique, None)
                raise
            self._modules[key] = module
        return module

    @staticmethod
    def _environment(fn: LambdaFunction, code_dir: Path) -> dict[str, str]:
        env = {
            "_HANDLER": str(fn.handler),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "LAMBDA_TASK_ROOT": str(code_dir),
        }
        env.update({key: str(value) for key, value in (fn.environment_vars or {}).items()})
        env.update(_IN_PROCESS_ENV)
        return env

    @staticmethod
    def _context(fn: LambdaFunction, count: int) -> LambdaContext:
        # Deterministic request ids: reruns of a scenario produce the same logs and ledgers.
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lambda:{fn.function_arn}:{count}"))
        return LambdaContext(
            function_name=fn.function_name,
            function_version=str(fn.version),
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{fn.function_name}",
            log_stream_name=f"local/{request_id}",
            deadline_monotonic=time.monotonic() + float(fn.timeout),
        )


def _error(error_type: str, message: str) -> tuple[str, bool, str]:
    return json.dumps({"errorType": error_type, "errorMessage": message}), True, ""


@contextmanager
def _process_env(values: Mapping[str, str]) -> Iterator[None]:
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
    try:
        yield
    finally:
        with _ENV_LOCK:
            for key, previous in saved.items():
                if previous is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = previous


_ACTIVE_RUNTIME: InProcessLambdaRuntime | None = None


def active_runtime() -> InProcessLambdaRuntime | None:
    """The runtime installed by the innermost ``local_aws()``, if any."""
    return _ACTIVE_RUNTIME


@contextmanager
def local_aws(region: str = DEFAULT_REGION) -> Iterator[InProcessLambdaRuntime]:
    """moto with the Step Functions interpreter, fake credentials, TZ=UTC and in-process Lambda.

    Makes no sockets: everything below runs in this process.
    """
    global _ACTIVE_RUNTIME
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
    previous_runtime = _ACTIVE_RUNTIME
    try:
        with _process_env(values):
            time.tzset()
            with mock_aws(config=MOTO_CONFIG), faster_moto(), InProcessLambdaRuntime() as runtime:
                _ACTIVE_RUNTIME = runtime
                yield runtime
    finally:
        _ACTIVE_RUNTIME = previous_runtime
        time.tzset()


# =========================================================================== the stack


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    physical_id: str


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule moto skipped: the sandbox fires it on the virtual clock."""

    logical_id: str
    function_logical_id: str
    expression: str
    timezone: str
    input: str | None
    enabled: bool


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP API route moto skipped: the sandbox calls the function with an API Gateway v2 event."""

    function_logical_id: str
    method: str
    path: str
    auth: str  # "NONE" or "AWS_IAM"


@dataclass
class Stack:
    name: str
    region: str
    account_id: str
    parameters: dict[str, str]
    resources: dict[str, Resource]
    outputs: dict[str, str]
    skipped: dict[str, str]  # logical id -> resource type moto did not create
    schedules: list[Schedule]
    http_routes: list[HttpRoute]
    code_dirs: dict[str, Path]  # function logical id -> CodeUri folder
    repaired: dict[str, str] = field(default_factory=dict)  # logical id -> what provision did instead of moto
    state_machine_definitions: dict[str, str] = field(default_factory=dict)  # logical id -> ASL executed
    template: dict[str, Any] = field(default_factory=dict, repr=False)  # the translated CloudFormation

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise KeyError(f"{logical_id} is not a created resource of {self.name}") from None

    def table(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::DynamoDB::Table")

    def queue_url(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::SQS::Queue")

    def topic_arn(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::SNS::Topic")

    def bucket(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::S3::Bucket")

    def event_bus(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::Events::EventBus")

    def function_name(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::Lambda::Function")

    def function_arn(self, logical_id: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name(logical_id)}"

    def function_logical_id(self, function_name: str) -> str:
        for resource in self.resources.values():
            if resource.type == "AWS::Lambda::Function" and resource.physical_id == function_name:
                return resource.logical_id
        raise KeyError(function_name)

    @property
    def function_logical_ids(self) -> list[str]:
        return sorted(r.logical_id for r in self.resources.values() if r.type == "AWS::Lambda::Function")

    @property
    def state_machine_arn(self) -> str:
        return self.state_machine_arn_of("EscalationStateMachine")

    def state_machine_arn_of(self, logical_id: str) -> str:
        return self._of_type(logical_id, "AWS::StepFunctions::StateMachine")

    def invocation_counts(self, runtime: InProcessLambdaRuntime) -> dict[str, int]:
        """Invocations per function logical id since the runtime started."""
        return {lid: runtime.invocations[self.function_name(lid)] for lid in self.function_logical_ids}

    def _of_type(self, logical_id: str, resource_type: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None or resource.type != resource_type:
            raise KeyError(f"{logical_id} is not a {resource_type} of {self.name}")
        return resource.physical_id


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
    resource_map = cloudformation_backends[account_id][region].stacks[stack_id].resource_map
    resources = {
        r["LogicalResourceId"]: Resource(
            r["LogicalResourceId"],
            r["ResourceType"],
            r.get("PhysicalResourceId") or _physical_id_fallback(resource_map, r["LogicalResourceId"]),
        )
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
        if "LogicalResourceId" in r  # moto lists the resources it skipped without an id
    }
    _subscribe_topics(translated, resources, resource_map, session)
    _create_configuration_sets(translated, resource_map, session)
    _repair_hmac_keys(translated, resources, account_id, region)

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
    resource_map: Any,
    account_id: str,
    region: str,
) -> dict[str, str]:
    """CloudFormation puts state machines where StartExecution does not look: recreate them there."""
    from moto.stepfunctions.models import stepfunctions_backends

    executing = stepfunctions_parser_backends[account_id][region]
    created = stepfunctions_backends[account_id][region]
    definitions: dict[str, str] = {}
    for logical_id, raw in substitutions.items():
        arn = resources[logical_id].physical_id
        original = created.describe_state_machine(arn)
        values = {name: str(clean_json(value, resource_map)) for name, value in raw.items()}
        definition = _substitute(original.definition, values)
        json.loads(definition)  # a substitution must never break the JSON
        original.definition = definition
        executing.create_state_machine(name=original.name, definition=definition, roleArn=original.roleArn)
        definitions[logical_id] = definition
    return definitions


# Resources moto CloudFormation skips but whose Ref (their name) other resources use.
_SKIPPED_NAME_PROPERTY = {"AWS::SES::ConfigurationSet": "Name"}


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
    translated: dict[str, Any], resource_map: Any, session: boto3.session.Session
) -> None:
    """Create the SES configuration sets moto CloudFormation skips (sending with one needs it)."""
    ses = session.client("ses")
    for _logical_id, resource in sorted(translated["Resources"].items()):
        if resource["Type"] == "AWS::SES::ConfigurationSet":
            name = str(clean_json(resource["Properties"]["Name"], resource_map))
            ses.create_configuration_set(ConfigurationSet={"Name": name})


def _repair_hmac_keys(translated: dict[str, Any], resources: dict[str, Resource], account_id: str,
                      region: str) -> None:
    """moto CloudFormation creates every AWS::KMS::Key as a symmetric encryption key, ignoring
    KeySpec and KeyUsage: an HMAC key (the ledger's) gets its spec and usage back, or GenerateMac
    refuses it and no ledger commit could be sealed. (It also keeps the key policy as an object,
    which DescribeKey cannot serialise: it is stored as the JSON text the API would hold.)"""
    from moto.kms.models import kms_backends

    backend = kms_backends[account_id][region]
    for logical_id, resource in translated["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::KMS::Key" and str(props.get("KeySpec", "")).startswith("HMAC_"):
            key = backend.keys[backend.any_id_to_key_id(resources[logical_id].physical_id)]
            key.key_spec, key.key_usage = props["KeySpec"], props["KeyUsage"]
            if isinstance(key.policy, dict):
                key.policy = json.dumps(key.policy)


def _physical_id_fallback(resource_map: Any, logical_id: str) -> str:
    # moto returns no physical id for a few types (EventBus: its Ref yields the object itself);
    # their name is what CloudFormation's Ref would give.
    model = resource_map[logical_id]
    return str(getattr(model, "name", "") or getattr(model, "arn", ""))


def _subscribe_topics(
    translated: dict[str, Any],
    resources: dict[str, Resource],
    resource_map: Any,
    session: boto3.session.Session,
) -> None:
    """moto CloudFormation skips AWS::SNS::Subscription: subscribe the functions ourselves."""
    sns = session.client("sns")
    for _logical_id, resource in sorted(translated["Resources"].items()):
        if resource["Type"] != "AWS::SNS::Subscription":
            continue
        props = clean_json(resource["Properties"], resource_map)
        attributes = {}
        if "FilterPolicy" in props:
            attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        sns.subscribe(
            TopicArn=str(props["TopicArn"]),
            Protocol=str(props["Protocol"]),
            Endpoint=str(props["Endpoint"]),
            Attributes=attributes,
        )


def _repairs(translated: dict[str, Any]) -> dict[str, str]:
    what = {
        "AWS::SNS::Subscription": "subscribed through the SNS API",
        "AWS::SES::ConfigurationSet": "created through the SES API (events are not published)",
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
    modelled = get_model_map()
    skipped = {}
    for logical_id, resource in translated["Resources"].items():
        kind = resource["Type"]
        if (
            logical_id not in resources
            or kind in NULL_MODELS
            or (kind not in modelled and not kind.startswith("Custom::"))
        ):
            skipped[logical_id] = kind
    return dict(sorted(skipped.items()))


def _target_function(arn: Any) -> str:
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        return str(arn["Fn::GetAtt"][0])
    raise ValueError(f"schedule target is not a function of this template: {arn!r}")


def _schedules(translated: dict[str, Any], resource_map: Any) -> list[Schedule]:
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
                expression=str(clean_json(props["ScheduleExpression"], resource_map)),
                timezone=str(clean_json(timezone, resource_map)),
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
