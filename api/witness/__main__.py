"""``python -m api.witness serve ...``: the same commands as ``chemtrace witness``, without
loading the ledger service's command line (its database and migration imports)."""

from api.witness.cli import app

app(prog_name="chemtrace witness")
