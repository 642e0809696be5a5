"""moto state the sandbox reads or repairs directly, where the AWS API cannot say or do it.

These are not patches (no moto code is replaced), but they use moto's private backends and
models, so they live here with the patches and are checked by the same version guard:

- CloudFormation: a stack's resource map (to resolve ``Ref``/``Fn::GetAtt`` values of resources
  moto skipped, and the names of resources whose physical id moto leaves empty), and which
  resource types moto does not model at all.
- Step Functions: CloudFormation creates state machines in ``moto.stepfunctions.models``, but
  StartExecution (with ``execute_state_machine``) reads the parser backend; and it ignores
  ``DefinitionSubstitutions``. The substituted definition is put on the created machine and the
  machine is created again where executions look.
- KMS: CloudFormation creates every ``AWS::KMS::Key`` as a symmetric encryption key, ignoring
  ``KeySpec`` and ``KeyUsage``; the ledger's HMAC key gets its spec and usage back, or GenerateMac
  refuses it and no ledger commit could be sealed (its policy object is also stored as the JSON
  text DescribeKey serialises).
- DynamoDB: an event source mapping on a table stream makes moto call the handler inside
  ``put_item`` and drain the shard; deleting the mapping through the API leaves it attached to
  the table, so it is detached there too (the sandbox polls the stream itself). And a run's
  results read every item of a table at the end: moto's Scan starts each 1 MB page again from
  the table's first item (quadratic in the table: ~60 s of a 2,500-account shard after three
  days), so the items are read as a Scan would return them, in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.parsing import NULL_MODELS, clean_json, get_model_map
from moto.dynamodb.models import dynamodb_backends
from moto.kms.models import kms_backends
from moto.stepfunctions.models import stepfunctions_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

# A stack's resources as moto built them: logical id -> moto's model object (opaque outside).
ResourceMap = Any


def resource_map(account_id: str, region: str, stack_id: str) -> ResourceMap:
    return cloudformation_backends[account_id][region].stacks[stack_id].resource_map


def resolve(value: Any, resources: ResourceMap) -> Any:
    """A template value with its intrinsic functions (Ref, Fn::GetAtt, Fn::Sub ...) resolved."""
    return clean_json(value, resources)


def physical_name(resources: ResourceMap, logical_id: str) -> str:
    # moto returns no physical id for a few types (EventBus: its Ref yields the object itself);
    # their name is what CloudFormation's Ref would give.
    model = resources[logical_id]
    return str(getattr(model, "name", "") or getattr(model, "arn", ""))


def is_modelled(resource_type: str) -> bool:
    """Whether moto CloudFormation creates resources of this type (it skips the others silently)."""
    if resource_type in NULL_MODELS:
        return False
    return resource_type in get_model_map() or resource_type.startswith("Custom::")


def created_definition(account_id: str, region: str, arn: str) -> str:
    """The definition of a state machine CloudFormation created, as moto stored it."""
    return str(stepfunctions_backends[account_id][region].describe_state_machine(arn).definition)


def make_executable(account_id: str, region: str, arn: str, definition: str) -> None:
    """Give the created state machine ``definition`` and create it where executions look."""
    created = stepfunctions_backends[account_id][region].describe_state_machine(arn)
    created.definition = definition
    stepfunctions_parser_backends[account_id][region].create_state_machine(
        name=created.name, definition=definition, roleArn=created.roleArn)


def detach_stream_mappings(account_id: str, region: str, table_names: Iterable[str]) -> None:
    backend = dynamodb_backends[account_id][region]
    for name in table_names:
        backend.get_table(name).lambda_event_source_mappings.clear()


def restore_hmac_key(account_id: str, region: str, key_id: str, key_spec: str, key_usage: str) -> None:
    """Give a key CloudFormation created the HMAC spec and usage the template asked for."""
    backend = kms_backends[account_id][region]
    key = backend.keys[backend.any_id_to_key_id(key_id)]
    key.key_spec, key.key_usage = key_spec, key_usage
    if isinstance(key.policy, dict):
        key.policy = json.dumps(key.policy)


def table_items(account_id: str, region: str, table_name: str) -> list[dict[str, Any]]:
    """Every item of a table in the wire shape a Scan page holds (numbers as strings, binary as bytes)."""
    table = dynamodb_backends[account_id][region].get_table(table_name)
    return [{name: value.to_regular_json() for name, value in item.attrs.items()} for item in table.all_items()]
