"""chemtrace's pure domain core: events, canonical bytes, signatures, the log, verification.

Nothing in this package (except :mod:`ledger.store`) performs I/O.
"""
