"""Grouped findings (issue 13, defect class 10): which occurrences are one finding."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from ledger.rules import RULES, Finding, Severity
from ledger.rules.grouping import SUBJECTS, group_findings, group_of, subject_of

UNGROUPED = frozenset({
    # the key already names the subject (one shipment, item, sale or code), and the
    # engine emits a key once: grouping would change nothing
    "custody.transit_overdue", "custody.double_holder", "transport.gps_gap",
    "transport.route_deviation", "transport.track_lost", "lifecycle.use_before_receipt",
    "lifecycle.after_disposal", "lifecycle.second_commission", "clone.after_destruction",
    "clone.unissued_code", "city.prohibited", "city.restricted_bulk",
    "permit.toxic_filing_missing",
    # one event each, and each is its own legal act to answer for (a sale, a shipment, a
    # receive): reviewed one by one
    "custody.wrong_receiver", "permit.toxic_sale_unpermitted", "permit.individual_buyer",
    "permit.precursor_purchase", "transport.documents_missing",
    "transport.vehicle_not_licensed", "transport.arrival_far",
    "transport.toxic_pass_missing", "waste.disposer_unlicensed", "waste.manifest_missing",
    # one revocation each, naming the events it reaches back over
    "keys.backdated_revocation",
})  # fmt: skip
"""The rules reviewed to keep subject = key. A new rule fails this test until it is added
here or to ``SUBJECTS``: it cannot silently go ungrouped."""


def occurrence(
    rule: str, key: str, at: str = "2026-10-01T08:00:00Z", *, severity: Severity = "high",
    org: str | None = "depot-co", site: str | None = "depot", district: str | None = "d1",
    chemical: str | None = "30", item: str | None = "ITEM-1",
) -> Finding:  # fmt: skip
    return Finding(rule=rule, key=key, severity=severity, at=at, message=f"{rule} {key}",
                   evidence=("sha256:" + "ab" * 32,), org=org, site=site, district=district,
                   chemical=chemical, item=item)  # fmt: skip


def test_every_rule_is_grouped_or_reviewed_to_keep_its_key() -> None:
    assert set(SUBJECTS) <= set(RULES), sorted(set(SUBJECTS) - set(RULES))
    assert set(SUBJECTS).isdisjoint(UNGROUPED)
    assert set(RULES) - set(SUBJECTS) == UNGROUPED


def test_an_ungrouped_rule_s_occurrence_is_its_own_group_with_its_own_id() -> None:
    found = occurrence("custody.transit_overdue", "sha256:" + "1" * 64)
    assert subject_of(found) == found.key
    assert group_of(found) == found.id


def test_one_depot_s_clash_of_two_groups_is_one_group_whichever_chemicals_meet() -> None:
    pair = occurrence("storage.incompatible", "depot|flammable+oxidizer|18+30")
    other_pair = occurrence("storage.incompatible", "depot|flammable+oxidizer|6+26", item="I-2")
    other_clash = occurrence("storage.incompatible", "depot|acid+cyanide|25+32", item="I-3")
    other_depot = occurrence("storage.incompatible", "yard|flammable+oxidizer|18+30", site="yard")
    groups = group_findings([pair, other_pair, other_clash, other_depot])
    assert len(groups) == 3
    assert groups[group_of(pair)].count == 2 and group_of(pair) == group_of(other_pair)


def test_late_syncs_at_one_site_are_one_group_with_count_first_and_last_seen() -> None:
    made = [occurrence("device.late_sync", f"sha256:{n:064x}", f"2026-10-0{n}T08:00:00Z",
                       severity="low", item=f"ITEM-{n}") for n in (3, 1, 2)]  # fmt: skip
    elsewhere = occurrence("device.late_sync", "sha256:" + "9" * 64, site="lab", severity="low")
    groups = group_findings([*made, elsewhere])
    assert len(groups) == 2
    group = groups[group_of(made[0])]
    assert (group.count, group.first_seen, group.last_seen) == (
        3, "2026-10-01T08:00:00Z", "2026-10-03T08:00:00Z"
    )  # fmt: skip
    assert group.occurrences == tuple(sorted(f.id for f in made))
    assert groups[group_of(elsewhere)].count == 1


def test_first_and_last_seen_compare_instants_not_text() -> None:
    # as text "…:00Z" sorts after "…:00.5Z"; as instants it is earlier
    whole = occurrence("device.late_sync", "sha256:" + "1" * 64, "2026-10-01T08:00:00Z")
    half = occurrence("device.late_sync", "sha256:" + "2" * 64, "2026-10-01T08:00:00.5Z")
    (group,) = group_findings([half, whole]).values()
    assert (group.first_seen, group.last_seen) == (whole.at, half.at)


def test_a_unit_s_warning_and_its_breach_are_one_group_at_the_worst_severity() -> None:
    warn = occurrence("storage.major_hazard", "depot-co|depot+yard:1:40", severity="medium")
    breach = occurrence("storage.major_hazard", "depot-co|depot+yard:2:77",
                        "2026-10-02T08:00:00Z", severity="critical")  # fmt: skip
    other_unit = occurrence("storage.major_hazard", "depot-co|depot:2:90", severity="critical")
    groups = group_findings([warn, breach, other_unit])
    assert len(groups) == 2
    assert groups[group_of(warn)].severity == "critical"
    assert groups[group_of(warn)].count == 2


def test_an_organisation_s_balance_windows_of_one_chemical_are_one_group() -> None:
    first = occurrence("mass.org_balance", "depot-co|30|100", site=None)
    later = occurrence("mass.org_balance", "depot-co|30|200", "2026-11-01T08:00:00Z", site=None)
    other_chemical = occurrence("mass.org_balance", "depot-co|18|100", site=None)
    groups = group_findings([first, later, other_chemical])
    assert groups[group_of(first)].count == 2
    assert group_of(other_chemical) != group_of(first)


@pytest.mark.parametrize(
    "change", [{"org": "other-co"}, {"district": "d2"}], ids=["org", "district"]
)
def test_a_group_never_spans_two_organisations_or_districts(change: dict[str, Any]) -> None:
    # scoping judges a group by its org and district: an enterprise must not see, inside
    # its own group, another organisation's occurrence
    mine = occurrence("device.late_sync", "sha256:" + "1" * 64)
    theirs = replace(occurrence("device.late_sync", "sha256:" + "2" * 64), **change)
    assert group_of(mine) != group_of(theirs)


def test_grouping_depends_on_the_set_of_occurrences_only() -> None:
    made = [occurrence("device.late_sync", f"sha256:{n:064x}", f"2026-10-{n:02d}T08:00:00Z",
                       severity=("low", "medium")[n % 2]) for n in range(1, 20)]  # fmt: skip
    made += [occurrence("storage.incompatible", f"depot|a+b|{n}+30") for n in range(1, 5)]
    shuffled = made * 2  # a replayed stream gives each occurrence twice
    random.Random(7).shuffle(shuffled)
    assert group_findings(shuffled) == group_findings(made)
    assert sum(g.count for g in group_findings(shuffled).values()) == len(made)


@pytest.mark.parametrize("rule", ["mass.stock_shortfall", "mass.transform_imbalance"])
def test_a_site_s_shortfalls_of_one_chemical_are_one_group(rule: str) -> None:
    one = occurrence(rule, "ITEM-1:sha256:" + "1" * 64)
    two = occurrence(rule, "ITEM-2:sha256:" + "2" * 64, item="ITEM-2")
    other_chemical = occurrence(rule, "ITEM-3:sha256:" + "3" * 64, chemical="18")
    other_site = occurrence(rule, "ITEM-4:sha256:" + "4" * 64, site="yard")
    groups = group_findings([one, two, other_chemical, other_site])
    assert len(groups) == 3 and groups[group_of(one)].count == 2
