"""A C2SP witness (https://c2sp.org/tlog-witness) run by another party: ``chemtrace witness``.

It shares no code path with the ledger's database: its whole state is a folder of files
(:mod:`api.witness.state`), its decisions are :mod:`ledger.witness`, its cosignatures
:mod:`ledger.cosignature`, its HTTP face :mod:`api.witness.app` and its commands
:mod:`api.witness.cli`. See ``docs/witness.md``.
"""
