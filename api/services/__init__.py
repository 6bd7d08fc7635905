"""The service layer: one service per job, wired by :mod:`api.services.root`.

``access`` (tokens, principals, scopes), ``registry`` (records, devices, licences, codes),
``queries`` (items within scope, projections, bundles), ``ingest`` (the write path),
``journal`` (the security journal), ``log`` (the public audit log) and ``findings``
(anomaly findings and webhooks). Services raise the errors of :mod:`api.services.errors`
(and the core's :mod:`ledger.errors`), never HTTP ones; ``api.problems`` maps them.
"""
