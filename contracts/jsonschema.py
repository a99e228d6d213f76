"""Generate the committed JSON Schemas of every event (``contracts/schemas/``).

``python -m contracts.jsonschema`` writes them; ``--check`` exits non-zero when the committed
files differ from the models, which is how a test catches a contract changed without its schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import contracts  # noqa: F401  (registers every event model)
from contracts.envelope import Envelope, registered_events

SCHEMA_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _render(schema: dict, schema_id: str) -> str:
    return (
        json.dumps({"$schema": DIALECT, "$id": schema_id, **schema}, indent=2, ensure_ascii=False, sort_keys=True)
        + "\n"
    )


def expected_schemas() -> dict[str, str]:
    """File name → rendered schema, for the envelope and each event payload."""
    files = {"envelope.json": _render(Envelope.model_json_schema(), "envelope")}
    for event_type, model in sorted(registered_events().items()):
        name = f"{event_type.removeprefix('nl.schakel.')}.v{model.version}.json"
        files[name] = _render(model.model_json_schema(), model.dataschema())
    return files


def drift() -> list[str]:
    """Names of schema files that are missing, stale or no longer backed by a model."""
    expected = expected_schemas()
    present = {p.name for p in SCHEMA_DIR.glob("*.json")}
    stale = [n for n, text in expected.items() if n not in present or (SCHEMA_DIR / n).read_text() != text]
    return sorted(stale + [n for n in present - expected.keys()])


def write() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    expected = expected_schemas()
    for old in SCHEMA_DIR.glob("*.json"):
        if old.name not in expected:
            old.unlink()
    for name, text in expected.items():
        (SCHEMA_DIR / name).write_text(text)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        changed = drift()
        if changed:
            print("JSON Schemas out of date (run `make schemas`):", *changed, sep="\n  ")
            return 1
        return 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
