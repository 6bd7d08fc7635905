"""A seeded demo city behind an in-process app (TestClient over https, so the browser
rules for ``__Host-`` Secure cookies hold), for the console's session and page tests."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.app import create_app
from api.services.root import Service
from api.settings import Settings
from scanners.client import ChemtraceClient
from sim.demo import seed

BASE = "https://testserver"


@dataclass
class Demo:
    service: Service
    app: object
    tokens: dict[str, str]
    admin_token: str
    catalog_version: str

    def browser(self) -> TestClient:
        """A fresh cookie jar, like a new browser."""
        return TestClient(self.app, base_url=BASE, follow_redirects=False)  # type: ignore[arg-type]


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home: Path = tmp_path_factory.mktemp("console-demo")
    settings = Settings(
        db=f"sqlite:///{home}/demo.db",
        keys=home / "keys",
        background=False,
        findings=False,
        rate_limit_per_minute=0,
    )
    service = Service.open(settings)
    token_file = home / "admin.token"
    service.registry.bootstrap_admin(token_file)
    app = create_app(settings, service=service)
    catalog = service.deployment.catalogs.get("2026-draft.1")
    with TestClient(app) as http:
        admin_token = token_file.read_text().strip()
        report = seed(
            ChemtraceClient(http=http, token=admin_token), service.deployment.keys, catalog
        )
    yield Demo(service, app, dict(report.tokens), admin_token, catalog.version)
    service.close()


CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: TestClient, token: str) -> TestClient:
    """Log ``client`` in through the form, as a browser would."""
    form = client.get("/console/login")
    assert form.status_code == 200
    done = client.post("/console/login", data={"token": token, "csrf": csrf_of(form.text)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/dashboard"
    return client
