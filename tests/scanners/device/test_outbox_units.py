"""The handheld refuses, before it signs, a quantity the server would refuse: nothing queues."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import ledger.units
import scanners.device.outbox
from ledger.codes import generate_code
from ledger.commitments import disclose
from ledger.signing import Ed25519Signer
from ledger.store.catalog_files import load_registry
from ledger.units import CatalogUnits, UnitNotConvertibleError
from scanners.device.outbox import Author, Outbox

T0 = "2026-10-01T08:00:00Z"
UNITS = CatalogUnits(load_registry())


@dataclass
class CountingSigner:
    """An Ed25519 signer that counts what it signs."""

    inner: Ed25519Signer = field(default_factory=Ed25519Signer.generate)
    signed: int = 0

    @property
    def algorithm(self) -> str:
        return self.inner.algorithm

    @property
    def public_key(self) -> bytes:
        return self.inner.public_key

    @property
    def key_id(self) -> str:
        return self.inner.key_id

    def sign(self, message: bytes) -> bytes:
        self.signed += 1
        return self.inner.sign(message)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite") as box:
        yield box


@pytest.fixture
def signer() -> CountingSigner:
    return CountingSigner()


@pytest.fixture
def author(signer: CountingSigner) -> Author:
    return Author(signer, "p-chem", disclose("person", "op").commitment, "2026-draft.1")


def _commission(value: str, unit: str, chemical: str = "1.1") -> dict[str, object]:
    return {"chemical": chemical, "quantity": {"value": value, "unit": unit}, "lot": "L1",
            "packaging": "cylinder"}  # fmt: skip


def test_the_handheld_uses_the_servers_own_check() -> None:
    assert scanners.device.outbox.check_event_units is ledger.units.check_event_units


def test_litres_of_chlorine_are_refused_before_signing(
    outbox: Outbox, author: Author, signer: CountingSigner
) -> None:
    code = generate_code()
    with pytest.raises(UnitNotConvertibleError) as info:
        outbox.record(author, "commission", [code], _commission("50", "L"), time=T0,
                      site="p-chem-site", units=UNITS)  # fmt: skip
    assert info.value.code == "unit_not_convertible" and info.value.context["form"] == "1.1"
    assert signer.signed == 0
    assert outbox.events() == [] and outbox.head(code) is None


def test_kilograms_of_chlorine_are_signed_and_queued(
    outbox: Outbox, author: Author, signer: CountingSigner
) -> None:
    code = generate_code()
    event = outbox.record(author, "commission", [code], _commission("50", "kg"), time=T0,
                          site="p-chem-site", units=UNITS)  # fmt: skip
    assert event.state == "pending" and signer.signed == 1


def test_a_use_is_judged_by_the_chemical_the_device_knows(
    outbox: Outbox, author: Author, signer: CountingSigner
) -> None:
    code = generate_code()
    outbox.record(author, "commission", [code], _commission("50", "kg"), time=T0,
                  site="p-chem-site", units=UNITS)  # fmt: skip
    use = {"quantity": {"value": "5", "unit": "L"}}
    with pytest.raises(UnitNotConvertibleError):
        outbox.record(author, "use", [code], use, time="2026-10-01T08:01:00Z", units=UNITS,
                      chemicals={code: "1.1"})  # fmt: skip
    assert signer.signed == 1 and len(outbox.events()) == 1
    acetone = generate_code()
    outbox.record(author, "commission", [acetone], _commission("50", "kg", "33.1"), time=T0,
                  site="p-chem-site", units=UNITS)  # fmt: skip
    outbox.record(author, "use", [acetone], use, time="2026-10-01T08:02:00Z", units=UNITS,
                  chemicals={acetone: "33.1"})  # fmt: skip
    assert signer.signed == 3
