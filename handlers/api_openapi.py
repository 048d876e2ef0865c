"""`GET /api/v1/openapi.json`: the ingest API described from the very models that validate it,
so the document cannot drift from what the route accepts, and the webhook deliveries
(handlers/webhooks/openapi.py).

It is kept in the repository as docs/openapi.json (for the example routing file); a test fails
when they differ. To add a route: add its path item to `paths` below (and its schemas to
`components`), then regenerate: `python -m handlers.api_openapi > docs/openapi.json`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from bot.core.routing_rules import Routing
from handlers.api_schema import EMAIL, SLACK_USER, TEAMS_USER, ApiReport
from handlers.api_volume import ApiVolume
from handlers.webhooks import openapi as webhook_openapi

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "field": {"type": "string", "description": "the first invalid field"},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "every invalid field (dotted path) with what is wrong with it",
        },
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_FILED = {
    "type": "object",
    "properties": {
        "case": {"type": "integer"},
        "report": {"type": "integer"},
        "status": {"type": "string"},
        "system": {"type": "string"},
        "category": {"type": "string"},
        "severity": {"type": "string"},
        "owner": {"type": ["string", "null"]},
        "owner_role": {"type": ["string", "null"]},
        "case_created": {"type": "boolean"},
        "report_updated": {"type": "boolean"},
        "reporters": {"type": "integer"},
        "duplicate": {"type": "boolean", "description": "the idempotency key was seen before"},
    },
}


def openapi_document(routing: Routing) -> dict[str, Any]:
    """OpenAPI 3.1 for POST /api/v1/reports and /api/v1/volume, with this routing's categories
    and systems."""
    schema = ApiReport.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    properties = schema["properties"]
    properties["category"]["enum"] = [c.id for c in routing.categories]
    properties["system"] = {
        "anyOf": [{"enum": [s.id for s in routing.systems]}, {"type": "null"}],
        "default": None,
    }
    properties["reporter"] = {
        "anyOf": [
            {"$ref": "#/components/schemas/ApiReporter"},
            {
                "type": "string",
                "description": "an e-mail address, a Slack user id (U…, W…) or a Teams id (29:…)",
                # What the route accepts (handlers/api_schema.py), so a client can check first.
                "pattern": "|".join(f"(?:{p.pattern})" for p in (EMAIL, SLACK_USER, TEAMS_USER)),
            },
        ]
    }
    components["ApiReport"] = schema
    # The route wants at least one of these (a model validator JSON Schema cannot see).
    components["ApiReporter"]["anyOf"] = [
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("slack_id", "teams_id", "email")
    ]
    volume = ApiVolume.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(volume.pop("$defs", {}))
    volume["properties"]["system"] = {"enum": [s.id for s in routing.systems]}
    components["ApiVolume"] = volume
    components["Error"] = _ERROR
    components["Filed"] = _FILED
    components.update(webhook_openapi.SCHEMAS)

    def error(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }

    filed = {"application/json": {"schema": {"$ref": "#/components/schemas/Filed"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "loopkeeper API", "version": _version()},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/reports": {
                "post": {
                    "summary": "Forward a flag on an AI output (a native thumbs-down)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ApiReport"}
                            }
                        },
                    },
                    "responses": {
                        "201": {"description": "a new case", "content": filed},
                        "200": {"description": "joined a case, or a duplicate", "content": filed},
                        "400": error("the body is not a JSON object (or too deeply nested)"),
                        "401": error("missing or wrong bearer token"),
                        "413": error("the body is too large"),
                        "422": error("invalid fields, every one listed"),
                        "503": error("the database is unavailable: try again (Retry-After)"),
                    },
                }
            },
            "/api/v1/volume": {
                "post": {
                    "summary": "Say how many outputs were served on a day (flag rates per 1,000)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ApiVolume"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "stored; it replaces that day's earlier count",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ApiVolume"}
                                }
                            },
                        },
                        "400": error("the body is not a JSON object"),
                        "401": error("missing or wrong bearer token"),
                        "413": error("the body is too large"),
                        "422": error("invalid fields, every one listed"),
                        "503": error("the database is unavailable: try again (Retry-After)"),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "webhooks": webhook_openapi.webhooks(),
    }


def openapi_route(routing: Routing) -> Callable[[web.Request], Awaitable[web.Response]]:
    document = openapi_document(routing)

    async def handle(request: web.Request) -> web.Response:
        return web.json_response(document)

    return handle


def _version() -> str:
    try:
        return version("loopkeeper")
    except PackageNotFoundError:
        return "0"


def example_document() -> dict[str, Any]:
    """The document for the example routing file, as docs/openapi.json keeps it."""
    from importlib import resources

    from bot.config.loading import parse_routing

    text = resources.files("bot.config").joinpath("routing.example.yaml").read_text("utf-8")
    return openapi_document(parse_routing(text, "routing.example.yaml"))


if __name__ == "__main__":
    import json

    print(json.dumps(example_document(), indent=2, ensure_ascii=False))
