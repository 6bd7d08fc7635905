"""The ASGI entry point (``uvicorn api.asgi:app``), configured from ``CHEMTRACE_*`` variables."""

from api.app import create_app

app = create_app()
