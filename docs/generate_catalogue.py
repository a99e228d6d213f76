"""Write ``docs/events.md``, the event catalogue, from the contracts (``python docs/generate_catalogue.py``).

The catalogue is generated so it cannot drift from ``contracts/``: a unit test fails when the
committed page differs from what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import contracts  # noqa: E402,F401  (registers every event model)
from contracts import topics  # noqa: E402
from contracts.envelope import EventData, registered_events  # noqa: E402

CATALOGUE = REPO / "docs" / "events.md"


def _type(spec: dict) -> str:
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in spec:
        return " or ".join(_type(s) for s in spec["anyOf"])
    if spec.get("type") == "array":
        return f"list of {_type(spec.get('items', {}))}"
    kind = spec.get("type", "any")
    return f"{kind} ({spec['format']})" if "format" in spec else str(kind)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render() -> str:
    events = registered_events()
    out = [
        "# Event catalogue",
        "",
        "Generated from `contracts/` by `docs/generate_catalogue.py` — do not edit by hand; a unit test "
        "fails when this page is out of date. Every event travels in the CloudEvents envelope of "
        "`contracts/envelope.py` (`id`, `type`, `source`, `time`, `subject` = Kafka key, `dataschema`, "
        "`correlationid`, `causationid`, `data`); the JSON Schemas are in `contracts/schemas/`. Dead "
        "letters of a topic go to `<topic>.dlq`.",
        "",
    ]
    # A pool's events are listed under their topic's pattern (``pool.<name>.capacity.v1``).
    by_topic: dict[str, list[type[EventData]]] = {t: [] for t in (*topics.ALL, *topics.POOL_PATTERNS)}
    for _, model in sorted(events.items()):
        by_topic[model.topic].append(model)
    out += ["| topic | events |", "|---|---|"]
    out += [f"| `{t}` | {', '.join(m.__name__ for m in models)} |" for t, models in by_topic.items()]
    for topic, models in by_topic.items():
        out += ["", f"## `{topic}`"]
        for model in models:
            schema = model.model_json_schema()
            required = set(schema.get("required", []))
            out += [
                "",
                f"### {model.__name__}",
                "",
                f"`{model.event_type}` — schema `{model.dataschema()}`, keyed by {' + '.join(f'`{f}`' for f in model.subject_fields)}",
                "",
            ]
            if model.__doc__ and model.__doc__ is not EventData.__doc__:
                out += [_cell(model.__doc__), ""]
            out += ["| field | type | required | description |", "|---|---|---|---|"]
            for name, spec in schema.get("properties", {}).items():
                out.append(
                    f"| `{name}` | {_cell(_type(spec))} | {'yes' if name in required else ''} | "
                    f"{_cell(spec.get('description', ''))} |"
                )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    CATALOGUE.write_text(render())
    print(f"wrote {CATALOGUE.relative_to(REPO)}")
