"""The simulator's own anomaly vocabulary, and the ONE reviewed table mapping it to rules.

A *kind* names what went wrong in the world, in the simulator's words, with the
regulation it breaks. ``rule`` is the engine rule id expected to report it and
``subject`` the finding field that must name the labelled subject (``item``, ``site`` or
``org``). A rule id the engine does not have (its severity is absent from the rules
catalog the engine ran with) is kept here on purpose: the evaluation shows it as a
recall gap. Ids marked PROPOSED are the names issue 13 asks for; the integrator aligns
them with the rules as they land, here and nowhere else.

A rule id ``ingest.CODE`` means the anomaly must never reach the ledger: ingest refuses it
with the problem code ``CODE``, and the evaluation counts the refusal the writer saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Subject = Literal["item", "site", "org"]


@dataclass(frozen=True, slots=True)
class Kind:
    rule: str
    subject: Subject
    regulation: str


def _k(rule: str, subject: Subject, regulation: str) -> Kind:
    return Kind(rule, subject, regulation)


KINDS: Final[dict[str, Kind]] = {
    # lifecycle and custody
    "used_before_received": _k("lifecycle.use_before_receipt", "item",
                               "GB/T 38156 transaction order: custody precedes use"),
    "scanned_after_disposal": _k("lifecycle.after_disposal", "item",
                                 "R-CYL-3 / DB4114/T 185: a disposed code is never active again"),
    "code_commissioned_twice": _k("lifecycle.second_commission", "item",
                                  "一物一码: a code identifies one item, commissioned once"),
    "count_above_book": _k("lifecycle.quantity_growth", "item",
                           "R-TOX-6 / Art. 25 出入库核查: stock cannot grow without an entry"),
    "receipt_after_deadline": _k("custody.transit_overdue", "item",
                                 "R-TRN-1/5: a shipment arrives; transit time from the fixture"),
    "carrier_signs_receipt": _k("custody.wrong_receiver", "item",
                                "R-TRN-4 waybill: the named consignee receives"),
    "consignee_never_receives": _k("custody.transit_overdue", "item",
                                   "R-TRN-4: the consignee's receipt is still missing"),
    "shipment_never_received": _k("custody.transit_overdue", "item",
                                  "R-TRN-5: the shipment never reaches its consignee"),
    "return_never_received": _k("custody.transit_overdue", "item",
                                "a return travels as a shipment and must be received"),
    "count_by_former_holder": _k("custody.double_holder", "item",
                                 "一物一码: one holder at a time"),
    "offline_receipt_synced_late": _k("device.late_sync", "item",
                                      "issue 13: sync beyond the device-clock trust window"),
    "item_at_unshipped_site": _k("custody.unshipped_move", "item",
                                 "R-TRN-1: goods move between sites only under a waybill"),
    # clones and forgeries
    "cloned_label_impossible_trip": _k("clone.impossible_travel", "item",
                                       "一物一码: one physical item cannot be in two places"),
    "scanned_after_destruction": _k("clone.after_destruction", "item",
                                    "DB4114/T 185: a voided code is never reused"),
    "forged_label_unissued": _k("clone.unissued_code", "item",
                                "drug/detonator code model: only issued codes exist"),
    "label_of_another_org": _k("clone.unissued_code", "item",
                               "一企一品一码: a code belongs to the enterprise it was issued to"),
    # mass and loss
    "decant_mass_mismatch": _k("mass.transform_imbalance", "item",
                               "conservation of mass across decant/repack (Art. 25 registration)"),
    "count_short": _k("mass.stock_shortfall", "item",
                      "Art. 25 出入库核查: book vs counted, tolerance from the fixture"),
    "toxic_loss_at_count": _k("mass.stock_shortfall", "item",
                              "R-TOX-6: any unexplained 剧毒/易制爆 loss, zero tolerance"),
    "toxic_loss_at_use": _k("mass.stock_shortfall", "item",
                            "R-TOX-6: a use that leaves less than it declares, zero tolerance"),
    "toxic_loss_at_receive": _k("mass.receive_shortfall", "item",  # PROPOSED
                                "R-TOX-6 + R-TOX-4 quantity mismatch: received < shipped"),
    "org_overdraws": _k("mass.org_balance", "org",
                        "Art. 25: an organisation's in/out/held balance, fixture tolerance"),
    "toxic_org_imbalance": _k("mass.org_balance", "org",
                              "R-TOX-6: zero tolerance for an organisation's 剧毒/易制爆 balance"),
    "unit_not_convertible": _k("ingest.unit_not_convertible", "item",
                               "issue 13: a quantity whose unit the form cannot take"),
    # licences and permits
    "produced_without_licence": _k("licence.missing", "item", "R-LIC-1 安全生产许可证"),
    "unlicensed_holder_receives": _k(
        "licence.missing", "item", "R-TOX-1 / R-PRE-1: a holder of 剧毒/易制爆/易制毒 is licensed"
    ),
    "unlicensed_holder_uses": _k("licence.missing", "item",
                                 "R-TOX-1 / R-PRE-1: a user of 剧毒/易制爆/易制毒 is licensed"),
    "disposed_to_non_disposer": _k("waste.disposer_unlicensed", "item",  # PROPOSED
                                   "R-WST-1 / 固废法: the named disposer holds a disposal licence"),
    "disposal_without_manifest": _k("waste.manifest_missing", "item",  # PROPOSED
                                    "R-WST-1: every transfer carries a 转移联单"),
    "disposal_manifest_reused": _k("waste.manifest_missing", "item",  # PROPOSED
                                   "R-WST-1: one manifest per transfer; a reused number is none"),
    "toxic_sold_without_permit": _k("permit.toxic_sale_unpermitted", "item", "R-TOX-1 Art. 38-39"),
    "toxic_purchase_filed_late": _k("permit.toxic_filing_missing", "item",
                                    "R-TOX-4 Art. 41, 5 days by Civil Code arts. 201/203"),
    "sold_to_individual": _k("permit.individual_buyer", "item", "R-TOX-2 Art. 40"),
    "precursor_bought_unfiled": _k("permit.precursor_purchase", "item", "R-PRE-1 Art. 17"),
    # transport
    "shipped_without_escort": _k("transport.documents_missing", "item",
                                 "R-LIC-5, 交通部令2019年42号"),
    "vehicle_class_not_permitted": _k("transport.vehicle_not_licensed", "item", "R-LIC-4"),
    "gps_silence": _k("transport.gps_gap", "item", "R-TRN-5; gap length from the fixture"),
    "received_away_from_site": _k("transport.arrival_far", "item",
                                  "R-TRN-5: the track ends at the consignee; radius from fixture"),
    "route_deviation": _k("transport.route_deviation", "item",
                          "R-TRN-4 waybill route; corridor width from the fixture"),
    "gps_track_stops": _k("transport.track_lost", "item",
                          "R-TRN-5: a track that ends away from the consignee with no receive"),
    "toxic_road_without_pass": _k("transport.toxic_pass_missing", "item",
                                  "R-TOX-7 Art. 50: 剧毒化学品道路运输通行证"),
    # storage
    "major_hazard_unit": _k("storage.major_hazard", "site", "GB 18218 R-MHI-1: S ≥ 1"),
    "major_hazard_across_sites": _k("storage.major_hazard", "site",
                                    "GB 18218: one enterprise's facilities < 500 m are one unit"),
    "chlorine_beside_ammonia": _k("storage.incompatible", "item",
                                  "GB 15603 / GHS: oxidising gas apart from flammable gas"),
    "oxidizer_beside_flammable": _k("storage.incompatible", "item",
                                    "GB 15603 §2.8: oxidizers apart from flammables"),
    "acid_beside_cyanide": _k("storage.incompatible", "item",
                              "GB 15603 §2.8: acids apart from cyanides"),
    "toxic_stored_by_one_keeper": _k("storage.two_person", "item", "R-TOX-5 Art. 24 双人收发"),
    "cylinder_filled_past_inspection": _k("storage.cylinder_overdue", "item",
                                          "R-CYL-2, TSG 23-2021, judged on the Beijing date"),
    "cylinder_filled_after_failed_inspection": _k("storage.cylinder_failed_fill",  # PROPOSED
                                                  "item", "R-CYL-2: never fill a failed cylinder"),
    # city
    "prohibited_chemical": _k("city.prohibited", "item", "R-BJ-1 (simulation-only listing)"),
    "bulk_in_capital_core": _k("city.restricted_bulk", "item",
                               "R-BJ-1 small packages in 东城/西城; size from the fixture"),
    # dormancy and keys
    "return_never_collected": _k("dormancy.idle", "item", "fixture dormancy days"),
    "left_in_transit": _k("dormancy.idle", "item", "fixture dormancy days, in transit"),
    "backdated_key_revocation": _k(  # PROPOSED
        "keys.backdated_revocation", "org",
        "key hierarchy: events signed after a key's effective revocation",
    ),
}  # fmt: skip


def kinds_of_rule(rule: str) -> list[str]:
    return [name for name, kind in KINDS.items() if kind.rule == rule]
