"""OpenAPI descriptions of JSON request bodies that the routes read raw (through the bounded reader, after
the API key check) and parse themselves, so FastAPI never parses a body before authentication."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter


def inline_schema(model: Any) -> dict[str, Any]:
    """The model's JSON schema with every ``$defs`` reference inlined, usable inside an OpenAPI operation."""
    schema = TypeAdapter(model).json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any, depth: int = 0) -> Any:
        if depth > 40:  # a recursive model would never end; ours are not recursive
            return {}
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = {
                    **definitions[ref.removeprefix("#/$defs/")],
                    **{k: v for k, v in node.items() if k != "$ref"},
                }
                return resolve(target, depth + 1)
            return {key: resolve(value, depth + 1) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value, depth + 1) for value in node]
        return node

    result: dict[str, Any] = resolve(schema)
    return result


def json_request_body(model: Any) -> dict[str, Any]:
    """The ``openapi_extra`` documenting a required JSON body of ``model``."""
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(model)}}}
    }
