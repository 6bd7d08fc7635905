"""The committed API reference is what the app serves (regenerate: python -m api.openapi_doc)."""

from __future__ import annotations

from api.openapi_doc import DOCS, render


def test_docs_match_the_app() -> None:
    for name, text in render().items():
        assert (DOCS / name).read_text(encoding="utf-8") == text, (
            f"docs/{name} is stale: run .venv/bin/python -m api.openapi_doc"
        )


def test_every_operation_documents_its_errors_as_problem_json() -> None:
    import json

    schema = json.loads(render()["openapi.json"])
    for path, operations in schema["paths"].items():
        if not path.startswith("/v1/") or path.startswith("/v1/log/key"):
            continue
        for method, operation in operations.items():
            problems = [code for code in operation["responses"] if code[0] in "45"]
            assert problems, f"{method.upper()} {path} documents no error"
            for code in problems:
                content = operation["responses"][code].get("content", {})
                assert "application/problem+json" in content, (method, path, code)
