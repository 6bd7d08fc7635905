"""GS1 EPCIS 2.0 and CBV 2.0 in the pure core: what the capture, query and resolver shells share.

One job per module: :mod:`.ai_table` (GS1 AI metadata), :mod:`.ai_values` (one AI value's
checks), :mod:`.element_strings`, :mod:`.digital_link` (strict GS1 Digital Link parsing and
building, moved here from ``scanners.identifiers``, which keeps its names),
:mod:`.epc_uri` (EPC URNs and Digital Links as one canonical identity),
:mod:`.vocabulary` (CBV terms), :mod:`.hash_id` (CBV 2.0 §8.9 event hash IDs),
:mod:`.xml_reader` (the XML binding read into the JSON-LD shape), :mod:`.errors`.
"""

__all__ = [
    "ai_table",
    "ai_values",
    "digital_link",
    "element_strings",
    "epc_uri",
    "errors",
    "hash_id",
    "vocabulary",
    "xml_reader",
]
