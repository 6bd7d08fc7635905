"""The responder pack's builder and offline verifier (``ledger.emergency_pack``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.emergency_pack import (
    FORMAT,
    PackError,
    PackInput,
    build_pack,
    pack_digest,
    verify_pack,
)
from ledger.note import NoteVerifier, open_note
from ledger.signing import Ed25519Signer

ORIGIN = "chemtrace.test/ledger"
LOG = Ed25519Signer.from_seed(bytes(range(32)))  # throwaway test keys
OTHER = Ed25519Signer.from_seed(bytes(range(1, 33)))
VERIFIER = NoteVerifier.for_key(ORIGIN, LOG.public_key)
OTHER_VERIFIER = NoteVerifier.for_key(ORIGIN, OTHER.public_key)


def checkpoint(size: int, signer: Ed25519Signer = LOG, root: bytes = b"\x07" * 32) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), ORIGIN, signer)


def site(name: str, toxic: str, flammable: str, classes: dict[str, str]) -> dict[str, Any]:
    return {
        "site": name, "name": f"{name} 仓库", "organisation": "p-chem",
        "organisation_name": "P Chem", "district": "d1", "lat": "39.9", "lon": "116.4",
        "items": [{"code": f"CT-{name}-{n}"} for n in range(len(classes))],
        "totals_by_chemical": [],
        "totals_by_hazard_class": [{"hazard_class": k, "items": 1, "kilograms": v}
                                   for k, v in classes.items()],
        "toxic_inhalation_kg": toxic, "flammable_kg": flammable,
        "emergency_advice": [], "contacts": [{"role": "site_operator", "name": "P", "phone": None}],
    }  # fmt: skip


SITES = [
    site("zeta", "0", "8", {"2.1": "8"}),
    site("alpha", "40", "0.5", {"2.3": "40", "3": "0.5"}),
]


def make(signer: Ed25519Signer = LOG, note: str | None = None) -> dict[str, Any]:
    data = PackInput(ORIGIN, "d1", note or checkpoint(10, signer), "2026-12-07T16:00:00Z", SITES)
    return build_pack(data, signer, NoteVerifier.for_key(ORIGIN, signer.public_key))


def reason(pack: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(PackError) as caught:
        verify_pack(pack, kwargs.pop("verifier", VERIFIER), **kwargs)
    return caught.value.reason


def test_the_pack_holds_the_sites_sorted_with_district_totals_and_verifies() -> None:
    pack = make()
    assert pack["format"] == FORMAT and pack["log_size"] == 10
    assert [s["site"] for s in pack["sites"]] == ["alpha", "zeta"]
    assert pack["district_totals"] == {
        "sites": 2, "items": 3, "toxic_inhalation_kg": "40", "flammable_kg": "8.5",
        "totals_by_hazard_class": [
            {"hazard_class": "2.1", "items": 1, "kilograms": "8"},
            {"hazard_class": "2.3", "items": 1, "kilograms": "40"},
            {"hazard_class": "3", "items": 1, "kilograms": "0.5"},
        ],
    }  # fmt: skip
    verified = verify_pack(pack, VERIFIER, trusted_checkpoint=pack["checkpoint"])
    assert (verified.district, verified.checkpoint.size, verified.sites) == ("d1", 10, 2)


def test_the_signature_is_a_note_naming_the_checkpoint_and_the_digest() -> None:
    pack = make()
    lines = open_note(pack["signature"], [VERIFIER]).text.split("\n")
    assert lines[0] == "chemtrace/v1/emergency-pack"
    assert lines[1:4] == [ORIGIN, "d1", "10"]
    assert lines[5] == pack_digest(pack)


def test_the_same_input_gives_the_same_bytes() -> None:
    assert make() == make()


def test_a_tampered_pack_is_refused() -> None:
    pack = make()
    pack["sites"][0]["toxic_inhalation_kg"] = "4"
    assert reason(pack) == "digest_mismatch"
    dropped = make()
    del dropped["sites"][1]
    assert reason(dropped) == "digest_mismatch"


def test_a_pack_signed_by_another_key_is_refused() -> None:
    assert reason(make(signer=OTHER)) == "signature_invalid"
    # the other key's pack verifies under its own key: the refusal is the key's
    verify_pack(make(signer=OTHER), OTHER_VERIFIER)


def test_a_pack_whose_checkpoint_is_not_the_one_signed_is_refused() -> None:
    pack = make()
    pack["checkpoint"] = checkpoint(11)  # genuine, but not the one the pack was cut from
    assert reason(pack) == "checkpoint_mismatch"
    same_size = make()
    same_size["checkpoint"] = checkpoint(10, root=b"\x08" * 32)
    assert reason(same_size) == "checkpoint_mismatch"
    size = make()
    size["log_size"] = 11
    assert reason(size) == "checkpoint_mismatch"


def test_a_checkpoint_not_signed_by_the_log_is_refused() -> None:
    pack = make()
    pack["checkpoint"] = checkpoint(10, signer=OTHER)
    assert reason(pack) == "checkpoint_invalid"


def test_a_pack_not_cut_from_the_trusted_checkpoint_is_refused() -> None:
    pack = make()
    assert reason(pack, trusted_checkpoint=checkpoint(12)) == "checkpoint_not_trusted"
    assert reason(pack, trusted_checkpoint=checkpoint(10, root=b"\x09" * 32)) == (
        "checkpoint_not_trusted"
    )


def test_a_pack_of_another_district_under_this_signature_is_refused() -> None:
    pack = make()
    pack["district"] = "d2"
    assert reason(pack) == "checkpoint_mismatch"


@pytest.mark.parametrize("field", ["format", "signature", "sites", "log_size"])
def test_a_pack_missing_a_field_is_malformed(field: str) -> None:
    pack = copy.deepcopy(make())
    del pack[field]
    assert reason(pack) == "malformed"


def test_the_builder_refuses_a_checkpoint_of_another_log_key() -> None:
    data = PackInput(ORIGIN, "d1", checkpoint(10, OTHER), "2026-12-07T16:00:00Z", SITES)
    with pytest.raises(PackError) as caught:
        build_pack(data, LOG, VERIFIER)
    assert caught.value.reason == "checkpoint_invalid"


def test_a_site_without_its_totals_cannot_be_packed() -> None:
    broken = {k: v for k, v in SITES[0].items() if k != "flammable_kg"}
    data = PackInput(ORIGIN, "d1", checkpoint(10), "2026-12-07T16:00:00Z", [broken])
    with pytest.raises(PackError) as caught:
        build_pack(data, LOG, VERIFIER)
    assert caught.value.reason == "malformed"
