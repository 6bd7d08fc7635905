"""The browser assets the console and the API docs use, served by the app itself (no CDN).

They are npm packages pinned in ``api/console/assets/package-lock.json`` and installed by
the project's scripts (``npm ci`` into ``var/console-assets``, see ``scripts/_venv.sh``).
Only the files named in :data:`VENDOR` are served, so the rest of ``node_modules`` (sources,
maps, package metadata) is never exposed.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ASSETS: Final = REPO / "var" / "console-assets" / "node_modules"
OWN_STATIC: Final = Path(__file__).resolve().parent / "static"
INSTALL_HINT: Final = (
    "the console's browser assets are not installed: run scripts/demo.sh or scripts/test.sh "
    "(or: mkdir -p var/console-assets && cp api/console/assets/package*.json var/console-assets/ "
    "&& npm ci --prefix var/console-assets --ignore-scripts)"
)

VENDOR: Final[dict[str, str]] = {
    # URL name under /console/static/vendor/ -> path inside node_modules
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
    "images/marker-icon.png": "leaflet/dist/images/marker-icon.png",
    "images/marker-icon-2x.png": "leaflet/dist/images/marker-icon-2x.png",
    "images/marker-shadow.png": "leaflet/dist/images/marker-shadow.png",
    "images/layers.png": "leaflet/dist/images/layers.png",
    "images/layers-2x.png": "leaflet/dist/images/layers-2x.png",
    "echarts.min.js": "echarts/dist/echarts.min.js",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "redoc.standalone.js": "redoc/bundles/redoc.standalone.js",
}
BEIJING_GEOJSON: Final = "echarts-4-maps/map/json/province/beijing.json"
"""Beijing's 16 districts, from the echarts 4.9.0 npm package (Apache-2.0), in ECharts'
compressed encoding (decoded by :mod:`api.console.geo`)."""


class AssetsMissingError(LookupError):
    """The npm assets are not installed where the settings say."""


@dataclass(frozen=True, slots=True)
class Asset:
    path: Path
    media_type: str


class Assets:
    """Where the installed npm packages and the console's own static files are."""

    def __init__(self, root: Path | None) -> None:
        self.root = root or DEFAULT_ASSETS

    @property
    def installed(self) -> bool:
        return all((self.root / rel).is_file() for rel in (*VENDOR.values(), BEIJING_GEOJSON))

    def vendor(self, name: str) -> Asset | None:
        """A vendored file by its URL name; ``None`` for a name not served."""
        rel = VENDOR.get(name)
        if rel is None:
            return None
        path = self.root / rel
        if not path.is_file():
            raise AssetsMissingError(INSTALL_HINT)
        return Asset(path, _media_type(path))

    def own(self, name: str) -> Asset | None:
        """One of the console's own static files (css, js, svg), never outside the folder."""
        path = (OWN_STATIC / name).resolve()
        if OWN_STATIC not in path.parents or not path.is_file():
            return None
        return Asset(path, _media_type(path))

    def geojson_source(self) -> Path:
        path = self.root / BEIJING_GEOJSON
        if not path.is_file():
            raise AssetsMissingError(INSTALL_HINT)
        return path


def _media_type(path: Path) -> str:
    if path.suffix == ".js":
        return "text/javascript; charset=utf-8"
    if path.suffix == ".css":
        return "text/css; charset=utf-8"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
