"""NENA's pinned EIDO 1.0 schema, read in place from ../shared/standards/nena/ (never
copied into the project), as a jsonschema validator; and NENA's sample.

The published OpenAPI file has two defects, mended here in memory while loading:
`minItems: 1,` (a string with a comma) where a number is meant, and `$ref`s to NIEM
component files that are not published with it, which are read as open objects.
"""

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator, FormatChecker

NENA = Path(__file__).resolve().parents[2].parent / "shared" / "standards" / "nena"
SCHEMA = NENA / "eido-openapi.yaml"
SAMPLE = NENA / "eido-sample-call-transfer.json"
ROOT = "EmergencyIncidentDataObjectType"


def need_nena() -> None:
    """Skip, saying why, where the pinned files are not beside the project."""
    if not NENA.is_dir():
        pytest.skip(f"NENA's pinned standards are not at {NENA} (see the project's issue 22)")


@functools.cache
def eido_validator() -> Draft4Validator:
    need_nena()
    text = re.sub(r"minItems:\s*(\d+),", r"minItems: \1", SCHEMA.read_text())
    components = yaml.safe_load(text)["components"]
    _open_niem(components)
    schema = {**components["schemas"][ROOT], "components": components}
    return Draft4Validator(schema, format_checker=FormatChecker())


def _open_niem(node: Any) -> None:
    """NIEM `$ref`s (files NENA did not publish with the schema) become open objects."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            del node["$ref"]
            node["type"] = "object"
        for value in node.values():
            _open_niem(value)
    elif isinstance(node, list):
        for value in node:
            _open_niem(value)


def schema_errors(document: Any) -> list[str]:
    """Each way `document` fails NENA's schema, as `path: message`."""
    return [
        f"{error.json_path}: {error.message}" for error in eido_validator().iter_errors(document)
    ]


def nena_sample() -> dict[str, Any]:
    need_nena()
    sample: dict[str, Any] = json.loads(SAMPLE.read_text())
    return sample
