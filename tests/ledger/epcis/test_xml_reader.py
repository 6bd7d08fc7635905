"""The EPCIS XML binding read into the JSON-LD shape the hash and the mapping use."""

from __future__ import annotations

import pytest

from ledger.epcis.errors import EpcisFormatError
from ledger.epcis.hash_id import event_hash_id
from ledger.epcis.xml_reader import read_xml_events

DOC = """<?xml version="1.0"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:x="https://x.example/"
    schemaVersion="2.0" creationDate="2026-03-01T00:00:00Z">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2026-03-01T08:00:00+08:00</eventTime>
      <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
      <epcList><epc>urn:epc:id:sgtin:6901234.012345.A1</epc></epcList>
      <action>OBSERVE</action>
      <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
      <readPoint><id>urn:epc:id:sgln:6901234.00001.0</id></readPoint>
      <extension><x:dock x:side="north"></x:dock></extension>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"""
JSON = {
    "type": "ObjectEvent",
    "eventTime": "2026-03-01T00:00:00Z",
    "eventTimeZoneOffset": "+08:00",
    "epcList": ["https://id.gs1.org/01/06901234123456/21/A1"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "readPoint": {"id": "urn:epc:id:sgln:6901234.00001.0"},
    "x:dock": {"x:side": "north"},
}


def test_an_xml_event_reads_like_its_json_ld_twin() -> None:
    (event,) = read_xml_events(DOC)
    assert event["{https://x.example/}dock"] == {"{https://x.example/}side": "north"}
    assert event_hash_id(event) == event_hash_id(JSON, {"x": "https://x.example/"})
    other = {**JSON, "x:dock": {"x:side": "south"}}
    assert event_hash_id(event) != event_hash_id(other, {"x": "https://x.example/"})


def test_text_beside_attributes_is_refused_not_dropped() -> None:
    mixed = DOC.replace('x:side="north"><', 'x:side="north">7<')
    with pytest.raises(EpcisFormatError) as raised:
        read_xml_events(mixed)
    assert raised.value.context["field"] == "{https://x.example/}dock"


def test_a_dtd_is_refused_before_parsing() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]>' + DOC.split("?>", 1)[1]
    with pytest.raises(EpcisFormatError) as raised:
        read_xml_events(bomb)
    assert raised.value.context["field"] == "document"
    assert len(read_xml_events(DOC)) == 1


def test_a_document_without_events_names_the_missing_list() -> None:
    with pytest.raises(EpcisFormatError) as raised:
        read_xml_events("<epcis:EPCISDocument xmlns:epcis='urn:epcglobal:epcis:xsd:2'/>")
    assert raised.value.context["field"] == "EventList"
