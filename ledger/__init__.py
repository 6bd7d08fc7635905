"""chemtrace's pure domain core: events, canonical bytes, signatures, the Merkle log and verification.

Nothing in this package (except :mod:`ledger.store`) performs I/O.
"""
