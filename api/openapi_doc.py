"""Write the API reference from the app's OpenAPI: ``python -m api.openapi_doc [DIR]``.

``docs/openapi.json`` is the machine-readable contract; ``docs/api.md`` a readable index
of every endpoint. A test fails when either differs from what the app serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from api.app import create_app
from api.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def openapi() -> dict[str, Any]:
    """The schema, built without opening any database."""
    return create_app(Settings(background=False)).openapi()


def markdown(schema: dict[str, Any]) -> str:
    lines = [
        "# chemtrace HTTP API reference",
        "",
        "Generated from the OpenAPI schema by `python -m api.openapi_doc`; the full contract",
        "(request and response schemas) is [openapi.json](openapi.json), and a running server",
        "serves it interactively at `/docs`. Errors are `application/problem+json` with a",
        "stable `code`; the statuses each endpoint may return are listed. Every endpoint may",
        "answer 400, 413, 422 and 431 (the request limits, before any route) and 500; the",
        "public pages (`/c/…`, `/C/…`) answer their 404 and 429 as HTML pages.",
        "",
        "| method | path | summary | errors |",
        "|---|---|---|---|",
    ]
    for path, operations in sorted(schema["paths"].items()):
        for method, operation in operations.items():
            errors = ", ".join(sorted(code for code in operation.get("responses", {})
                                      if code.startswith(("4", "5"))))  # fmt: skip
            summary = operation.get("summary", "").replace("|", "\\|")
            lines.append(f"| {method.upper()} | `{path}` | {summary} | {errors} |")
    return "\n".join(lines) + "\n"


def render() -> dict[str, str]:
    schema = openapi()
    return {
        "openapi.json": json.dumps(schema, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
        "api.md": markdown(schema),
    }


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS
    for name, text in render().items():
        (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main()
