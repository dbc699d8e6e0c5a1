"""Checks a ``--progress json`` stream against docs/progress-json.schema.json and the stream rules."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "progress-json.schema.json").read_text())
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def check_stream(events, exit_code: int | None = None, command: str | None = None) -> list[dict]:
    """Every event valid; one ``start`` first, one ``done`` last; progress counts sane. Returns the dicts."""
    data = [e.data if hasattr(e, "data") else e for e in events]
    assert data, "empty stream"
    for obj in data:
        errors = sorted(_VALIDATOR.iter_errors(obj), key=str)
        assert not errors, f"{obj}: {errors[0].message}"
    kinds = [d["event"] for d in data]
    assert kinds[0] == "start" and kinds.count("start") == 1, kinds
    assert kinds[-1] == "done" and kinds.count("done") == 1, kinds
    if command is not None:
        assert data[0]["command"] == command, data[0]
    done = [d["done"] for d in data if d["event"] == "progress"]
    assert done == sorted(done), done
    for d in data:
        if d["event"] == "progress" and d["total"] is not None:
            assert d["done"] <= d["total"], d
    if "error" in kinds:
        assert data[-1]["exit_code"] != 0
    if exit_code is not None:
        assert data[-1]["exit_code"] == exit_code, data[-1]
    return data


def parse_lines(stdout: str) -> list[dict]:
    """Every stdout line must be one JSON object (nothing else on stdout)."""
    out = []
    for line in stdout.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        out.append(obj)
    return out
