"""What a shipment must carry when it leaves (R-TRN-1, R-TRN-4, R-LIC-4, R-LIC-5). Pure.

- ``transport.documents_missing``: no e-waybill number, vehicle, driver or escort (the
  configured list), or a driver or escort without a valid certificate in the registry.
- ``transport.vehicle_not_licensed``: an unregistered, suspended or expired vehicle, or
  one whose road transport certificate does not list the goods' UN class.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import Ship
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import class_matches, when


def on_ship(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Ship)
    data = body.data
    chemicals = {c.seq: c for c in ev.chemicals.values() if c is not None}
    chemical = next(iter(sorted(chemicals)), None)
    problems = [
        f"no {name.replace('_no', ' number')}"
        for name in st.config.transport.required_documents
        if getattr(data, name, None) is None
    ]
    for role, person in (("driver", data.driver), ("escort", data.escort)):
        if person is not None and not st.registry.crew_valid(person, role, ev.time):
            problems.append(f"the {role} holds no valid {role} certificate")
    if problems:
        yield st.finding(
            "transport.documents_missing",
            ev.hash,
            body.time,
            f"shipment by {data.carrier} for {body.org}: {'; '.join(problems)}",
            (ev.hash,),
            org=data.carrier,
            site=body.site,
            item=body.items[0].code,
            chemical=chemical,
        )
    if data.vehicle is None:
        return
    vehicle = st.registry.vehicle(data.vehicle)
    if vehicle is None:
        reason = f"vehicle {data.vehicle} is not in the registry"
    elif vehicle["status"] != "active" or when(str(vehicle["valid_until"])) <= ev.time:
        reason = f"vehicle {data.vehicle}'s road transport certificate is not valid"
    else:
        allowed = [str(c) for c in vehicle["un_classes"]]
        outside = sorted(
            {
                c.transport_class
                for c in chemicals.values()
                if c.transport_class
                and not any(class_matches(a, {c.transport_class}) for a in allowed)
            }
        )
        if not outside:
            return
        reason = (
            f"vehicle {data.vehicle} may carry classes {', '.join(allowed)}, "
            f"not {', '.join(outside)}"
        )
    yield st.finding(
        "transport.vehicle_not_licensed",
        ev.hash,
        body.time,
        reason,
        (ev.hash,),
        org=data.carrier,
        site=body.site,
        item=body.items[0].code,
        chemical=chemical,
    )
