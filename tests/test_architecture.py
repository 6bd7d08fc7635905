"""Import boundaries. The domain core stays pure: no ``ledger`` module outside ``ledger.store``
imports I/O. The demo city and the simulator (``sim``) may import ``ledger``, ``api`` and
``scanners``, but none of those imports ``sim``, except the command-line root ``api/cli.py``,
and that only inside the ``demo`` and ``simulate`` commands. The two shells stay apart:
nothing in ``api`` but the command-line root imports ``scanners``, and ``scanners`` never
imports ``api``; what both need lives in ``ledger`` (crash-safe writes in ``ledger.store``).

Checked on the source with ``ast``, so an import hidden inside a function is
caught as well as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEDGER = ROOT / "ledger"
CLI_ROOT = ROOT / "api" / "cli.py"
"""The one module outside ``sim`` that may import it: ``chemtrace demo`` and ``simulate``."""
FORBIDDEN = {
    "sqlalchemy",
    "alembic",
    "psycopg",
    "psycopg2",
    "sqlite3",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "requests",
    "urllib",
    "http",
    "socket",
    "redis",
    "subprocess",
    "shutil",
    "pathlib",
    "io",
    "tempfile",
    "asyncio",
    "typer",
    "rich",
    "api",
    "scanners",
    "sim",
    "os",
}


def _pure_modules() -> list[Path]:
    return sorted(p for p in LEDGER.rglob("*.py") if "store" not in p.relative_to(LEDGER).parts)


def _modules_below_sim() -> list[Path]:
    """Every module of the core, the service and the client side but the CLI root."""
    found = (p for package in ("ledger", "api", "scanners") for p in (ROOT / package).rglob("*.py"))
    return sorted(p for p in found if p != CLI_ROOT)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in {
            "open",
            "__import__",
        }:
            names.add(f"builtin {node.func.id}")  # type: ignore[attr-defined]
    return names


def test_there_are_pure_modules_to_check() -> None:
    assert len(_pure_modules()) >= 15


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(LEDGER)))
def test_pure_module_imports_no_io(path: Path) -> None:
    found = _imports(path)
    bad = {name for name in found if name in FORBIDDEN or name.startswith("builtin ")}
    assert not bad, f"{path.name} imports I/O: {sorted(bad)}"


def test_the_check_catches_an_io_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    import sqlalchemy\n    return open('x')\n")
    assert {"sqlalchemy", "builtin open"} <= _imports(sneaky)


@pytest.mark.parametrize("path", _modules_below_sim(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_cli_root_imports_sim(path: Path) -> None:
    assert "sim" not in _imports(path), f"{path.relative_to(ROOT)} imports sim"


def test_the_cli_root_imports_sim_only_inside_its_commands() -> None:
    assert "sim" in _imports(CLI_ROOT)  # the rule above has something to exempt
    at_load: set[str] = set()
    for node in ast.parse(CLI_ROOT.read_text(), filename=str(CLI_ROOT)).body:
        if isinstance(node, ast.Import):
            at_load.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            at_load.add(node.module.split(".")[0])
    assert "sim" not in at_load, "api/cli.py imports sim when it loads, not when a command runs"


def _modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    "path", [p for p in _modules_of("api") if p != CLI_ROOT], ids=lambda p: p.name
)
def test_the_service_shell_does_not_import_the_client_shell(path: Path) -> None:
    assert "scanners" not in _imports(path), f"{path.relative_to(ROOT)} imports scanners"


@pytest.mark.parametrize("path", _modules_of("scanners"), ids=lambda p: p.name)
def test_the_client_shell_does_not_import_the_service_shell(path: Path) -> None:
    assert "api" not in _imports(path), f"{path.relative_to(ROOT)} imports api"


def test_the_core_lists_every_public_module_it_has() -> None:
    import ledger

    modules = {p.stem for p in LEDGER.glob("*.py") if p.stem != "__init__"}
    packages = {p.parent.name for p in LEDGER.glob("*/__init__.py")}
    assert set(ledger.__all__) == modules | packages


WITNESS = ROOT / "api" / "witness"
"""The witness (``chemtrace witness``) is run by another party: no code path to the ledger's
database or service. It may use ``api.witness`` itself, the pure core, and of ``ledger.store``
only the crash-safe file writes."""


def _full_imports(path: Path) -> set[str]:
    """Every module ``path`` imports, by full dotted name (``from a import b`` gives ``a`` and
    ``a.b``, since ``b`` may be a submodule); relative imports resolved within its package."""
    parts = path.relative_to(ROOT).with_suffix("").parts if path.is_relative_to(ROOT) else ()
    package = ".".join(parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _witness_may_not_import(name: str) -> bool:
    """``api`` and ``ledger.store`` themselves are docstring-only package inits."""
    top = name.split(".")[0]
    outside_api = top == "api" and name != "api" and not _within(name, "api.witness")
    database = name.startswith("ledger.store.") and not _within(name, "ledger.store.files")
    return outside_api or database or top in {"sqlalchemy", "alembic", "psycopg", "redis"}


def _within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


@pytest.mark.parametrize("path", sorted(WITNESS.rglob("*.py")), ids=lambda p: p.name)
def test_the_witness_shares_no_code_path_with_the_ledger_database(path: Path) -> None:
    bad = sorted(name for name in _full_imports(path) if _witness_may_not_import(name))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_witness_check_catches_a_store_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from ledger.store import engine\nimport api.deployment\n")
    assert {"ledger.store.engine", "api.deployment"} <= _full_imports(sneaky)
    assert all(map(_witness_may_not_import, ["ledger.store.engine", "api.deployment"]))
    assert not any(map(_witness_may_not_import, ["ledger.store.files", "api.witness.state"]))


def test_the_witness_loads_no_database_code_at_all() -> None:
    """Transitively, at run time: importing every witness module loads no SQL and no service."""
    import subprocess
    import sys

    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in WITNESS.glob("*.py")]
    script = (
        "import importlib, sys\n"
        f"for name in {[m for m in modules if not m.endswith('__main__')]!r}:\n"
        "    importlib.import_module(name)\n"
        "print('\\n'.join(sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60)  # fmt: skip
    loaded = set(done.stdout.split())
    assert "api.witness.app" in loaded
    assert not sorted(name for name in loaded if _witness_may_not_import(name))


SIM = ROOT / "sim"
ENGINE_RUNNER = SIM / "simulator" / "engine_run.py"
"""The one simulator module that may import ``api.anomaly``, and only to run the engine."""


def _full_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_simulator_shares_no_code_with_the_engine() -> None:
    """Issue 13: the simulator encodes the regulations itself; it never imports the rules."""
    modules = sorted(SIM.rglob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        for name in _full_imports(path):
            assert not (name == "ledger.rules" or name.startswith("ledger.rules.")), (path, name)
            if path != ENGINE_RUNNER:
                assert not name.startswith("api.anomaly"), (path, name)
