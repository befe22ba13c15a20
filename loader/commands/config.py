"""`loader config`: the effective settings, each with where it came from, secrets redacted.

Settings come from defaults, conf/loader.toml (or --config, $LOADER_CONFIG), .env, LOADER_* variables
and flags; `Settings.origins` records which one set each key, so a user can see why a value is what it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from .. import logs
from ..config import Settings, redact_url
from ..errors import EXIT_OK

SECTIONS = ("database", "load", "schemas", "service")
SECRET_KEYS = ("token", "password", "secret")


def effective(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every scalar setting as "section.key" -> {value, origin}; URLs without passwords, tokens as ***."""
    out: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        values = getattr(settings, section)
        for f in dataclasses.fields(values):
            key = f"{section}.{f.name}"
            out[key] = {"value": shown(f.name, getattr(values, f.name)),
                        "origin": settings.origins.get(key, "defaults")}
    return out


def shown(name: str, value: Any) -> Any:
    if any(word in name for word in SECRET_KEYS):
        return "***" if value else ""
    if name == "url" and isinstance(value, str) and value:
        return redact_url(value)
    return value


def listed(settings: Settings) -> dict[str, Any]:
    """Routes and sources, as configured (a source's URL redacted)."""
    routes = [dataclasses.asdict(r) for r in settings.routes]
    sources = [{k: shown(k, v) for k, v in dataclasses.asdict(s).items()} for s in settings.sources]
    return {"routes": {"origin": settings.origins.get("routes", "defaults"), "value": routes},
            "sources": {"origin": settings.origins.get("sources", "defaults"), "value": sources}}


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    scalars, lists = effective(settings), listed(settings)
    if args.json:
        print(json.dumps({"settings_from": settings.source, "settings": scalars} | lists, default=str, indent=1))
        return EXIT_OK
    print(f"# settings from {logs.printable(settings.source)}; each value's origin after it")
    width = max(len(k) for k in scalars)
    for key, item in scalars.items():
        value = json.dumps(item["value"], ensure_ascii=False, default=str)
        print(logs.printable(logs.redacted(f"{key.ljust(width)} = {value}  # {item['origin']}")))
    for name, item in lists.items():
        print(f"{name.ljust(width)} = {len(item['value'])} configured  # {item['origin']}")
        for entry in item["value"]:
            print(logs.printable(logs.redacted("  " + json.dumps(entry, ensure_ascii=False, default=str))))
    return EXIT_OK
