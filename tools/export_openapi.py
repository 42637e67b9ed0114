"""Write docs/openapi.json from the gateway's route declarations
(`python tools/export_openapi.py`); a unit test fails when it is stale."""
import json
import sys
from pathlib import Path

from fieldwork_gateway import app as _registers_the_wings  # noqa: F401
from fieldwork_gateway.openapi import build_spec
from fieldwork_gateway.web import api

TARGET = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def render():
    return json.dumps(build_spec(api), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
    sys.exit(0)
