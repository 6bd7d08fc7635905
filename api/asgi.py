"""The ASGI entry point (``uvicorn api.asgi:app``), configured from ``CHEMTRACE_*`` variables.

Each uvicorn worker process imports this module, so each configures its own logging here
(``CHEMTRACE_LOG_FORMAT``, ``CHEMTRACE_LOG_LEVEL``; see ``api.logs``).
"""

from api import logs
from api.app import create_app

logs.configure()
app = create_app()
