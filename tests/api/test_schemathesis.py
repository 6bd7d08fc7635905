"""The OpenAPI document tells the truth: schemathesis checks every operation against it.

A scratch server (SQLite in a temp dir, so no one's data is touched) is seeded with a small
world: registries, users, devices, issued and commissioned codes, findings. The schemathesis
command line then runs against the ``/openapi.json`` that server serves, with every check
(``--checks all``: no 500s, only documented statuses, content types and headers, bodies that
match their schemas, schema-valid requests accepted and invalid ones refused, ``Allow`` on
405, authentication enforced, resources there after they are created...). Its settings are
``tests/api/schemathesis.toml``: the credentials, the hooks that keep the run's own users
intact, and the few exemptions, each with its reason. The seeded ids are added to them as
dictionaries, so that requests also reach existing resources.

* the short pass (CI), ``pytest tests/api/test_schemathesis.py -m "not slow"``: the
  coverage and fuzzing phases, 25 examples per operation (about half a minute);
* the long pass (slow tier), ``pytest tests/api/test_schemathesis.py -m slow``: every
  phase, the stateful one included (sequences of calls along the links schemathesis infers
  from the schema), 300 examples per operation (a few minutes).

Both must find nothing. ``CHEMTRACE_FUZZ_EXAMPLES`` and ``CHEMTRACE_FUZZ_SEED`` override the
number of examples and the seed. On a failure the command line and schemathesis' report
are shown, each case with a ``curl`` line to replay it; the settings used, the report
(``report.json``) and the whole output stay in the test's temp dir (``--basetemp`` keeps
them where you like).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.live import ORGS, LiveServer, World, build_world, wait_for

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = int(os.environ.get("CHEMTRACE_FUZZ_SEED", "20261001"))
HOOK_URL = "http://127.0.0.1:9/chemtrace"
"""A subscriber on loopback (allowed on the scratch server), where nothing listens."""
GS1_KEYS = ["(01)09506000134352(21)FUZZ-1", "(8003)09506000134352FUZZ-2"]


@dataclass
class Target:
    """The seeded scratch server, and the values that exist on it."""

    server: LiveServer
    writer_token: str
    protected: list[str]
    values: dict[str, list[str]]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    home: Path = tmp_path_factory.mktemp("contract")
    server = LiveServer(home, f"sqlite:///{home}/var/chemtrace.db",
                        CHEMTRACE_WEBHOOK_ALLOW_NETWORKS="127.0.0.1/32").start()  # fmt: skip
    try:
        world = build_world(server)
        try:
            yield _seed(world)
        finally:
            world.close()
    finally:
        server.close()


def _seed(world: World) -> Target:
    """Items with chains, and the ids of everything there is, for the dictionaries."""
    server, admin = world.server, world.admin
    codes = world.issue("p-chem", 3)
    keyed = admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder", count=2,
                              batch="FUZZGS1", gs1_keys=GS1_KEYS)  # fmt: skip
    producer = world.actors["p-chem"]
    for code in codes[:2]:
        producer.client.submit(world.commission("p-chem", code))
    headers = {"Authorization": f"Bearer {server.admin_token}"}

    def get(path: str) -> Any:
        return httpx.get(server.base_url + path, headers=headers, timeout=30).json()

    try:  # the findings worker judges the commissions (unlicensed: licence.missing)
        findings = wait_for(lambda: get("/v1/findings")["findings"], timeout=30)
    except AssertionError:
        findings = []  # then no finding id is bound; the run still covers the rest
    hook = httpx.post(server.base_url + "/v1/webhooks", headers=headers, timeout=30,
                      json={"url": HOOK_URL, "min_severity": "low"})  # fmt: skip
    hook.raise_for_status()
    sites = [site["id"] for site in get("/v1/sites")]
    users = [user["id"] for user in get("/v1/users")]
    return Target(
        server=server,
        writer_token=admin.issue_token(producer.user_id),
        protected=["admin", producer.user_id],
        values={
            "codes": [*codes, *(entry["code"] for entry in keyed)],
            "labels": [entry["label_url"].split("/C/", 1)[1] for entry in keyed],
            "gs1": GS1_KEYS,
            "orgs": list(ORGS),
            "sites": sites,
            "records": [*ORGS, *sites, *users],
            "users": users,
            "keys": [device["key_id"] for device in get("/v1/devices")],
            "findings": [finding["id"] for finding in findings],
            "hooks": [hook.json()["id"]],
            "urls": [HOOK_URL],
        },
    )


BINDINGS = {
    # parameter (location.name) -> the dictionary half of its values are drawn from
    "path.code": "codes",
    "path.label": "labels",
    "query.gs1_key": "gs1",
    "path.record_id": "records",
    "path.site": "sites",
    "query.site": "sites",
    "path.user_id": "users",
    "path.key_id": "keys",
    "path.finding_id": "findings",
    "path.webhook_id": "hooks",
    "body.url": "urls",
    "query.org": "orgs",
    "body.org": "orgs",
}


SHORT_S, LONG_S = 600, 3 * 3600
"""How long each pass may take before it is stopped (and fails)."""


@pytest.mark.timeout(SHORT_S + 120)
def test_the_schema_tells_the_truth(target: Target, tmp_path: Path) -> None:
    """The short pass: every check, on the coverage and fuzzing phases, a few examples each."""
    examples = int(os.environ.get("CHEMTRACE_FUZZ_EXAMPLES", "25"))
    _contract(target, tmp_path, phases=["examples", "coverage", "fuzzing"], examples=examples,
              budget_s=SHORT_S)  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(LONG_S + 120)
def test_the_schema_tells_the_truth_long_run(target: Target, tmp_path: Path) -> None:
    """The long pass: every check on every phase, stateful sequences along the links included."""
    examples = int(os.environ.get("CHEMTRACE_FUZZ_EXAMPLES", "300"))
    _contract(target, tmp_path, phases=["examples", "coverage", "fuzzing", "stateful"],
              examples=examples, budget_s=LONG_S)  # fmt: skip


def _config(target: Target) -> str:
    """The checked-in settings, with the seeded values as dictionaries bound to parameters."""
    lines = [CONFIG.read_text(encoding="utf-8"), "", "# -- added by tests/api/test_schemathesis.py"]
    for name, values in sorted(target.values.items()):
        if values:
            lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    lines.append("[parameters]")
    for key, name in BINDINGS.items():
        if target.values.get(name):
            lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}')
    return "\n".join(lines) + "\n"


def _contract(
    target: Target, folder: Path, *, phases: Sequence[str], examples: int, budget_s: float
) -> None:
    config, report = folder / "schemathesis.toml", folder / "report.json"
    config.write_text(_config(target), encoding="utf-8")
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", target.server.base_url + "/openapi.json", "--checks", "all",
        "--phases", ",".join(phases), "--max-examples", str(examples), "--seed", str(SEED),
        "--workers", "1", "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    env = {
        **os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "120",
        "CHEMTRACE_FUZZ_ADMIN_TOKEN": target.server.admin_token,
        "CHEMTRACE_FUZZ_WRITER_TOKEN": target.writer_token,
        "CHEMTRACE_FUZZ_PROTECTED": ",".join(target.protected),
    }  # fmt: skip
    run = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                         timeout=budget_s, check=False)  # fmt: skip
    (folder / "output.txt").write_text(run.stdout + run.stderr, encoding="utf-8")
    shown = f"$ {' '.join(command)}\n{run.stdout[-60_000:]}\n{run.stderr[-5000:]}"
    assert report.exists(), shown
    outcome = json.loads(report.read_text(encoding="utf-8"))
    operations, cases = outcome["operations"], outcome["test_cases"]
    assert outcome["complete"] and operations["tested"] == operations["selected"] >= 50, shown
    assert cases["generated"] >= operations["tested"] * min(examples, 5), shown
    failures = {f"{f['code']} {f['title']}": f["operations"] for f in outcome["failures"]}
    assert not failures and not outcome["errors"], f"{failures}\n{outcome['errors']}\n{shown}"
    assert _served(target.server) >= cases["generated"] // 2, "the requests missed the server"


def _served(server: LiveServer) -> float:
    """How many requests the server has answered (its own metrics say)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in httpx.get(server.base_url + "/metrics", timeout=30).text.splitlines()
        if line.startswith("chemtrace_http_request_seconds_count")
    )
