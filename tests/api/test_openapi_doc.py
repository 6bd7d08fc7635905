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
    pages = {"/c/{code}", "/C/{label}"}  # a phone's browser gets an HTML page for these
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            problems = [code for code in operation["responses"] if code[0] in "45"]
            # the request limits answer on every path, and anything may fail
            assert {"400", "413", "422", "431", "500"} <= set(problems), (method, path)
            for code in problems:
                content = operation["responses"][code].get("content", {})
                page = path in pages and code in ("404", "429")
                own = page or (path, code) == ("/readyz", "503")
                assert own or set(content) == {"application/problem+json"}, (method, path, code)
                if code == "429":
                    assert "Retry-After" in operation["responses"][code]["headers"], (method, path)
