"""The event catalogue as an AsyncAPI 3 document, built from the registry."""

from __future__ import annotations

from typing import Any

from shared.events import registry
from shared.events.envelope import Envelope


def asyncapi_document(title: str = "Coup de main events") -> dict[str, Any]:
    """Return the AsyncAPI document of every registered event type and version."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for kind in registry.kinds():
        name = f"{kind.type}.v{kind.version}"
        schema = kind.model.model_json_schema(ref_template="#/components/schemas/{model}")
        messages[name] = {
            "name": kind.type,
            "title": f"{kind.type} v{kind.version}",
            "summary": (kind.model.__doc__ or "").strip().splitlines()[0] if kind.model.__doc__ else "",
            "payload": schema,
        }
        channel = channels.setdefault(
            kind.service,
            {
                "address": kind.topic,
                "messages": {},
                "description": f"events of {kind.service}, keyed by aggregate id",
            },
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for service in channels:
        operations[f"publish-{service}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{service}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": "1.0.0"},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {"Envelope": Envelope.model_json_schema()},
        },
    }
