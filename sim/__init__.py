"""The demo city and the simulator, which are neither the service nor the core.

``sim.demo`` seeds the ``chemtrace demo`` city through the typed HTTP client and
``sim.showcase`` writes its labels and an offline bundle; ``sim.simulator`` is the
``chemtrace simulate`` city simulator. They may import ``ledger`` and ``api``; ``api`` does
not import them, except its command-line root (``api.cli``), lazily, for those two commands.
"""
