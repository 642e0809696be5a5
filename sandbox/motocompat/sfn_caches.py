"""Step Functions interpreter work done once instead of once per execution, path or task.

moto's interpreter (ported from LocalStack) parses the whole state machine definition again for
every execution (``AmazonStateLanguageParser.parse``), builds a new JSONPath parser, a yacc
table, for every path it evaluates (``jsonpath_ng.ext.parse``, which EventBridge input paths use
too) and a new boto3 client for every Lambda or service task (``boto_client_for``). Here each
definition is parsed to a tree once and each path once, and one client is kept per service and
region, as a long-lived service would. The tree is read-only; the components evaluated for an
execution are built from it afresh every time (``Preprocessor().visit``), so no execution sees
another's state.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any

import jsonpath_ng.ext as jsonpath_ext
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client, json_path

from sandbox.motocompat.patching import replaced, require_parameters

require_parameters(AmazonStateLanguageParser.parse, "definition")
require_parameters(boto_client.boto_client_for, "region", "service", "state_credentials")
_INTERPRETER = "moto.stepfunctions.parser."


def cached_parse(parse: Callable[[str], tuple[Any, Any]]) -> Callable[[str], tuple[Any, Any]]:
    """``parse`` that keeps each definition's parse tree and builds fresh components from it."""
    trees: dict[str, Any] = {}
    lock = threading.Lock()

    def parse_once(definition: str) -> tuple[Any, Any]:
        with lock:
            tree = trees.get(definition)
        if tree is None:
            _, tree = parse(definition)  # raises on a syntax error, as before
            with lock:
                trees[definition] = tree
        return Preprocessor().visit(tree), tree

    return parse_once


def cached_clients(make: Callable[..., Any]) -> Callable[..., Any]:
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's own function ignores state_credentials (it always uses test keys): so may the cache.
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = make(region, service)
            return clients[(region, service)]

    return boto_client_for


def _holding(name: str) -> list[ModuleType]:
    # Interpreter modules import boto_client_for by name: each module's own reference is replaced.
    # Importing the parser above loaded every one of them (the preprocessor imports all states).
    return [m for n, m in list(sys.modules.items())
            if n.startswith(_INTERPRETER) and isinstance(m, ModuleType) and name in vars(m)]


@contextmanager
def interpreter_caches() -> Iterator[None]:
    with ExitStack() as stack:
        clients = cached_clients(boto_client.boto_client_for)
        for module in _holding("boto_client_for"):
            stack.enter_context(replaced(module, "boto_client_for", clients))
        paths = functools.lru_cache(maxsize=1024)(jsonpath_ext.parse)
        for module in (json_path, jsonpath_ext):
            stack.enter_context(replaced(module, "parse", paths))
        parse = staticmethod(cached_parse(AmazonStateLanguageParser.parse))
        stack.enter_context(replaced(AmazonStateLanguageParser, "parse", parse))
        yield
