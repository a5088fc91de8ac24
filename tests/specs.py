"""The official ACS OpenAPI specs from ../shared/specs/acs, as JSON-Schema validators.

The stricter of the emulator's two fidelity checks. The specs come with the project's reference
material beside the clone, not with the clone or the package index: where they are missing the
tests that need them are skipped, saying so (``-rs`` lists the reason), and the check that
stands on the package index alone remains, the official SDK's own live suite
(``tests/sdk_suite``).
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_FILES = (
    "PhoneNumbers/stable/2025-06-01/phonenumbers.json",
    "SipRouting/stable/2023-03-01/communicationservicessiprouting.json",
    "SipRouting/preview/2024-11-15-preview/communicationservicessiprouting.json",
)
COMMON_FILE = "Common/stable/2022-07-13/common.json"
# The Phone Numbers spec points at Common/stable/2021-03-07/common.json, which shared/ does not
# carry (only error.json of that folder); its CommunicationError has the same shape as the
# 2022-07-13 one (acs-api.md §2.1), so that document is registered under both names.
COMMON_ALIAS = "Common/stable/2021-03-07/common.json"

# Fields the real service sends as null although the spec types them as strings (recorded
# wire traffic, acs-api.md §3.3-3.4): they are validated as if absent.
WIRE_NULLS = frozenset({"resourceLocation", "nextLink"})


def specs_root() -> Path:
    """``../shared/specs/acs`` next to the repository (``NUMBERFLOW_SHARED`` overrides)."""
    shared = os.environ.get("NUMBERFLOW_SHARED") or str(
        Path(__file__).resolve().parents[2] / "shared"
    )
    root = Path(shared) / "specs" / "acs"
    if not root.is_dir():
        pytest.skip(
            f"ACS OpenAPI specs not at {root} (reference material, not part of a clone): "
            "the stricter spec check is skipped; the SDK's live suite (tests/sdk_suite) runs"
        )
    return root


def _swagger_to_jsonschema(node: Any) -> Any:
    """Turn swagger's ``x-nullable`` into JSON Schema (the rest of swagger 2.0 schemas is draft 4)."""
    if isinstance(node, list):
        return [_swagger_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _swagger_to_jsonschema(v) for k, v in node.items()}
    if converted.pop("x-nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass(frozen=True)
class SpecOperation:
    """One operation of a spec: where it lives and how its responses are validated."""

    spec: str
    method: str
    pattern: re.Pattern[str]
    operation_id: str
    responses: dict[str, Any]

    def validate(self, status: int, body: Any) -> None:
        """Validate a response body against the schema declared for its status (or default)."""
        response = self.responses.get(str(status)) or self.responses["default"]
        schema = response.get("schema")
        assert schema is not None, f"{self.operation_id} declares no body for {status}"
        resolved = (
            {"$ref": f"{self.spec}#/definitions/{schema['$ref'].split('/')[-1]}"}
            if "$ref" in schema and schema["$ref"].startswith("#")
            else _absolute(schema, self.spec)
        )
        validator = jsonschema.Draft4Validator(resolved, registry=_registry())
        validator.validate(_drop_wire_nulls(body))


def _absolute(schema: dict[str, Any], base: str) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    ref = schema.get("$ref")
    if ref and not ref.startswith("#"):
        schema["$ref"] = (
            str((Path(base.removeprefix("file://")).parent / ref.split("#")[0]).resolve().as_uri())
            + "#"
            + ref.split("#")[1]
        )
    return schema


def _drop_wire_nulls(node: Any) -> Any:
    if isinstance(node, list):
        return [_drop_wire_nulls(x) for x in node]
    if isinstance(node, dict):
        return {
            k: _drop_wire_nulls(v) for k, v in node.items() if not (v is None and k in WIRE_NULLS)
        }
    return node


@cache
def _registry() -> Registry:
    root = specs_root()
    resources = []
    for name in (*SPEC_FILES, COMMON_FILE):
        path = (root / name).resolve()
        document = _swagger_to_jsonschema(json.loads(path.read_text()))
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        resources.append((path.as_uri(), resource))
        if name == COMMON_FILE:
            resources.append(((root / COMMON_ALIAS).resolve().as_uri(), resource))
    return Registry().with_resources(resources)


@cache
def operations(spec_file: str) -> tuple[SpecOperation, ...]:
    """Every operation of one spec file."""
    path = (specs_root() / spec_file).resolve()
    document = json.loads(path.read_text())
    found = []
    for route, methods in document["paths"].items():
        pattern = re.compile(
            "^"
            + re.sub(
                r"\{[^}]+\}", "[^/]+", re.escape(route).replace(r"\{", "{").replace(r"\}", "}")
            )
            + "$"
        )
        for method, operation in methods.items():
            if method == "parameters":
                continue
            found.append(
                SpecOperation(
                    path.as_uri(),
                    method.upper(),
                    pattern,
                    operation["operationId"],
                    operation["responses"],
                )
            )
    return tuple(found)


def find_operation(spec_file: str, method: str, path: str) -> SpecOperation:
    """The spec operation for a request (method + decoded path)."""
    for operation in operations(spec_file):
        if operation.method == method and operation.pattern.match(path):
            return operation
    raise AssertionError(f"{method} {path} is not an operation of {spec_file}")
