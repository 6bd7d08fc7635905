"""The core's findings in the issue's words: the item's packaging, "this" for the scanned one,
and days relative to when the kit verified ("yesterday")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.bundle import BundleReport, describe_day, item_noun, verify_bundle
from ledger.note import NoteVerifier
from ledger.signing import ED25519
from tests.harness import ORIGIN
from tests.scanners.inspector.conftest import DAY3, Bundle, World


def verify(world: World, bundle: Bundle, focus: str | None) -> BundleReport:
    return verify_bundle(
        bundle,
        root_algorithm=ED25519,
        root_public_key=world.root.public_key,
        log_verifier=NoteVerifier.for_key(ORIGIN, world.log.public_key),
        state=None,
        now=DAY3,
        focus=focus,
    )


def altered(world: World) -> Bundle:
    bundle = world.bundle("new_site_b")
    main = next(item for item in bundle["items"] if item["code"] == world.main)
    entry = next(e for e in bundle["events"] if e["index"] == main["chain"][4])
    entry["envelope"]["body"]["data"]["quantity"]["value"] = "9"
    return bundle


def test_the_item_in_focus_is_this_cylinder(world: World) -> None:
    report = verify(world, altered(world), focus=world.main)
    assert [fault.message for fault in report.faults] == [
        "event 4 of this cylinder was altered (its bytes do not match the hash the log "
        "committed to)"
    ]


def test_without_a_focus_the_item_is_named_by_packaging_and_code(world: World) -> None:
    report = verify(world, altered(world), focus=None)
    assert report.faults[0].message.startswith(f"event 4 of cylinder {world.main} was altered")


def test_an_item_without_a_label_is_an_item(world: World) -> None:
    bundle = altered(world)
    for item in bundle["items"]:
        item["label"] = None
    report = verify(world, bundle, focus=None)
    assert report.faults[0].message.startswith(f"event 4 of item {world.main} was altered")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-20T00:00:01Z", "today"),
        ("2026-11-19T23:59:59Z", "yesterday"),
        ("2026-11-17T06:00:00Z", "on 2026-11-17"),
    ],
)
def test_days_read_relative_to_now(moment: str, expected: str) -> None:
    assert describe_day(moment, datetime(2026, 11, 20, 18, 0, tzinfo=UTC)) == expected


@pytest.mark.parametrize(
    ("packaging", "noun"),
    [("cylinder", "cylinder"), ("ibc", "IBC"), ("bulk", "bulk lot"), ("other", "item"),
     (None, "item")],
)  # fmt: skip
def test_packaging_words(packaging: str | None, noun: str) -> None:
    assert item_noun(packaging) == noun
