"""Screenshots of every console page, in Chinese and English, at 1280 and 390 px, and the
browser-measured load times of the dashboard and of a 100-event item page.

    python -m api.console.screenshots --out docs/console/

It seeds the demo city into a fresh temporary folder, serves it with ``chemtrace serve``
on loopback, and drives Debian's Chromium (``/usr/bin/chromium``) through Playwright. Any
request to a host other than 127.0.0.1 is refused and fails the run: the pages must work
offline. Needs the dev extras (``playwright``) and the console's npm assets.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING, Annotated, Any, Final
from urllib.request import urlopen

import typer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route

CHROMIUM: Final = "/usr/bin/chromium"
WIDTHS: Final = (1280, 390)
HEIGHTS: Final = {1280: 900, 390: 844}
MAX_SHOT_HEIGHT: Final = 2600
LOOPBACK: Final = "127.0.0.1"


# -- a browser that may talk to loopback only --------------------------------------------------


@dataclass
class OfflineGuard:
    """Refuses (and remembers) every request to a host other than 127.0.0.1."""

    refused: list[str] = field(default_factory=list)

    def __call__(self, route: Route) -> None:
        from urllib.parse import urlsplit

        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname == LOOPBACK:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("blockedbyclient")


def launch(playwright: Playwright) -> Browser:
    """Headless Debian Chromium (``playwright install`` cannot download here)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )


def offline_context(browser: Browser, guard: OfflineGuard, width: int = 1280) -> BrowserContext:
    context = browser.new_context(
        viewport={"width": width, "height": HEIGHTS.get(width, 900)},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.route("**/*", guard)
    return context


def log_in(page: Page, base_url: str, token: str, lang: str = "zh") -> None:
    page.goto(f"{base_url}/console/login?lang={lang}")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/dashboard*")


def load_ms(page: Page) -> dict[str, float]:
    """The page's Navigation Timing: DOM content loaded and load event, in ms."""
    entry: dict[str, float] = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {dom: n.domContentLoadedEventEnd - n.startTime,"
        " load: n.loadEventEnd - n.startTime}; }"
    )
    return entry


# -- a demo server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _chemtrace() -> list[str]:
    beside = Path(sys.executable).parent / "chemtrace"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "api.cli"]


SOURCE: Final = Path(__file__).resolve().parents[2]
"""The checkout this module runs from: the demo server runs its code too, not whatever
checkout the venv's ``chemtrace`` was installed from (a git worktree shares main's venv)."""


def _env(**extra: str) -> dict[str, str]:
    paths = [str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


@dataclass
class DemoServer:
    """The demo city seeded into ``home`` and served on a free loopback port."""

    home: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def db(self) -> str:
        return f"sqlite:///{self.home}/var/demo.db"

    def tokens(self) -> dict[str, str]:
        tokens: dict[str, str] = json.loads((self.home / "var" / "demo-tokens.json").read_text())
        tokens["admin"] = (self.home / "var" / "admin.token").read_text().strip()
        return tokens

    def start(self) -> DemoServer:
        keys = str(self.home / "var" / "keys")
        subprocess.run(  # noqa: S603 (our own CLI)
            [*_chemtrace(), "demo", "--seed-only", "--db", self.db, "--keys", keys],
            cwd=self.home,
            check=True,
            capture_output=True,
            env=_env(),
        )
        log = (self.home / "server.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own CLI)
            [*_chemtrace(), "serve", "--db", self.db, "--keys", keys, "--port", str(self.port)],
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_env(CHEMTRACE_CHECKPOINT_INTERVAL_S="0.2"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urlopen(self.base_url + "/healthz", timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the demo server did not start")

    def wait_for_findings(self, token: str, timeout: float = 90) -> int:
        """Wait until the findings worker has found something; how many it found."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = httpx.get(
                self.base_url + "/v1/findings",
                params={"limit": 1},
                headers={"Authorization": f"Bearer {token}"},
            )
            total = int(answer.json().get("total", 0)) if answer.status_code == 200 else 0
            if total:
                return total
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(5)
        self.process = None


@contextmanager
def demo_server() -> Iterator[DemoServer]:
    home = Path(tempfile.mkdtemp(prefix="chemtrace-console-"))
    server = DemoServer(home)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def long_item(base_url: str, admin_token: str, events: int = 100) -> str:
    """An item with ``events`` events (a commission, then stock counts), made through the
    API by a fresh laboratory with its own enrolled device; its code."""
    import base64

    import httpx

    from ledger.builder import DeviceSession
    from ledger.commitments import disclose
    from ledger.signing import Ed25519Signer

    def call(token: str, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(
            base_url + path, json=body, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )
        answer.raise_for_status()
        return answer.json()

    org, site = "bench-lab", "bench-lab-site"
    call(
        admin_token,
        "/v1/orgs",
        {"id": org, "name": "Bench laboratory", "type": "laboratory", "district": "haidian"},
    )
    call(
        admin_token,
        "/v1/sites",
        {
            "id": site,
            "org": org,
            "name": "Bench laboratory store",
            "address": "1 Test Road",
            "district": "haidian",
            "lat": "39.99",
            "lon": "116.31",
            "capacity_t": "10",
            "major_hazard": False,
        },
    )
    call(
        admin_token,
        "/v1/users",
        {"id": "bench-lab-ops", "role": "enterprise", "org": org, "name": "Bench operator"},
    )
    signer = Ed25519Signer.generate()
    call(
        admin_token,
        "/v1/devices",
        {
            "org": org,
            "public_key": base64.b64encode(signer.public_key).decode(),
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_until": "2030-01-01T00:00:00Z",
        },
    )
    token = str(call(admin_token, "/v1/users/bench-lab-ops/tokens", {})["token"])
    issued = call(
        admin_token,
        "/v1/codes:issue",
        {"org": org, "form": "1.1", "packaging": "cylinder", "batch": "BENCH", "count": 1},
    )
    code = str(issued["codes"][0]["code"])
    session = DeviceSession(
        signer=signer,
        org=org,
        actor=disclose("person", org).commitment,
        catalog_version="2026-draft.1",
    )
    envelopes = [
        session.event(
            "commission",
            [code],
            {
                "chemical": "1",
                "quantity": {"value": "40", "unit": "kg"},
                "lot": "L1",
                "packaging": "cylinder",
            },
            time="2026-10-01T00:00:00Z",
            site=site,
        )
    ]
    for n in range(1, events):
        data: dict[str, Any] = {"count_id": f"C{n:04d}", "quantity": {"value": "40", "unit": "kg"}}
        envelopes.append(
            session.event(
                "stock_count",
                [code],
                data,
                site=site,
                time=f"2026-10-{1 + n // 24:02d}T{n % 24:02d}:00:00Z",
            )
        )
    outcome = call(token, "/v1/events:batch", {"events": envelopes})
    if outcome["rejected"]:
        raise RuntimeError(f"the long item's events were refused: {outcome['results'][:3]}")
    return code


# -- the pages ---------------------------------------------------------------------------------


def pages(
    base_url: str, code: str, finding: str | None, lat: str, lon: str
) -> list[tuple[str, str]]:
    listed = [
        ("dashboard", "/console/dashboard"),
        ("search", "/console/search?q=%E6%B0%AF"),
        ("item", f"/console/items/{code}?verify=1"),
        ("site", "/console/sites/tongzhou-depot"),
        ("enterprise", "/console/orgs/tongzhou-store"),
        ("findings", "/console/findings?group=rule"),
        ("map", "/console/map"),
        ("emergency", f"/console/emergency?lat={lat}&lon={lon}&radius_m=3000"),
        ("journal", "/console/journal"),
    ]
    if finding:
        listed.insert(6, ("finding", f"/console/findings/{finding}"))
    return [(name, base_url + path) for name, path in listed]


def _shrink(path: Path) -> None:
    """Re-encode a screenshot with a 256-colour palette (a third of the size; text stays
    sharp), so the committed PNGs stay small."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    if page.locator("#map").count():
        page.wait_for_selector("#map[data-loaded='1']", timeout=15_000)


def run(out: Path, rounds: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"shots": [], "timings": {}}
    with demo_server() as server, sync_playwright() as playwright:
        tokens = server.tokens()
        server.wait_for_findings(tokens["admin"])
        code = long_item(server.base_url, tokens["admin"])
        import httpx

        found = httpx.get(
            server.base_url + "/v1/findings",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {tokens['regulator-city']}"},
        ).json()
        finding = found["findings"][0]["id"] if found.get("findings") else None
        browser = launch(playwright)
        guard = OfflineGuard()
        for width in WIDTHS:
            for lang in ("zh", "en"):
                context = offline_context(browser, guard, width)
                page = context.new_page()
                shot = out / f"login-{lang}-{width}.png"
                page.goto(f"{server.base_url}/console/login?lang={lang}")
                page.screenshot(path=str(shot), full_page=True)
                _shrink(shot)
                report["shots"].append(str(shot))
                log_in(page, server.base_url, tokens["regulator-city"], lang)
                for name, url in pages(server.base_url, code, finding, "39.9097", "116.6566"):
                    page.goto(url + ("&" if "?" in url else "?") + f"lang={lang}")
                    _settle(page)
                    shot = out / f"{name}-{lang}-{width}.png"
                    height = min(
                        MAX_SHOT_HEIGHT, int(page.evaluate("document.documentElement.scrollHeight"))
                    )
                    page.screenshot(
                        path=str(shot),
                        full_page=True,
                        clip={"x": 0, "y": 0, "width": width, "height": height},
                    )
                    _shrink(shot)
                    report["shots"].append(str(shot))
                context.close()
        # timings: a warm-up visit, then the median of ``rounds`` fresh navigations
        context = offline_context(browser, guard)
        page = context.new_page()
        log_in(page, server.base_url, tokens["regulator-city"])
        for name, path in (
            ("dashboard", "/console/dashboard"),
            ("item_100_events", f"/console/items/{code}"),
        ):
            page.goto(server.base_url + path)
            _settle(page)
            samples = []
            for _ in range(rounds):
                page.goto(server.base_url + path)
                _settle(page)
                samples.append(load_ms(page))
            report["timings"][name] = {
                "dom_content_loaded_ms": round(median(s["dom"] for s in samples), 1),
                "load_ms": round(median(s["load"] for s in samples), 1),
                "rounds": rounds,
            }
        events = page.goto(server.base_url + f"/console/items/{code}")
        assert events is not None
        report["item_events"] = page.locator("#timeline tbody tr").count()
        context.close()
        browser.close()
        if guard.refused:
            raise RuntimeError(f"requests left 127.0.0.1: {guard.refused[:5]}")
    report["load_average"] = os.getloadavg()
    return report


cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNGs.")] = Path("docs/console"),
    rounds: Annotated[int, typer.Option("--rounds", help="Navigations per timed page.")] = 5,
) -> None:
    """Screenshot every console page (zh, en; 1280 and 390 px) and time two pages."""
    report = run(out, rounds)
    print(f"{len(report['shots'])} screenshots in {out}")
    print(f"item page rows: {report['item_events']}; load average: {report['load_average']}")
    print(f"{'page':<18} {'DOMContentLoaded ms':>20} {'load ms':>10}")
    for name, timing in report["timings"].items():
        print(f"{name:<18} {timing['dom_content_loaded_ms']:>20} {timing['load_ms']:>10}")


if __name__ == "__main__":
    cli()
