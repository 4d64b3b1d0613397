"""The demo registry: the mock agencies as providers, and the demo clients with their grants.

``demo_registry({"population": "http://127.0.0.1:8001", ...})`` returns the registry document
of docs/contracts.md (members, subsystems, services, grants) for every discovered connector
given a base URL, plus the demo clients. Grants name only services that exist, so it works
whichever connectors are present.

Each client gets what its exchanges in DOMAIN.md need and no more: civil status runs the
birth and death linked procedures, social insurance checks who it insures (one by one or in
batches), the Hồ Chí Minh City one-stop portal handles enterprise and land dossiers (who held
a parcel on a contract's date: ``parcel-lookup`` with ``as_of``), a bank's eKYC may verify and
find citizens and check its customers in batches, and the business and land registries verify
the people (and enterprises) in their own procedures through the hub.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import connectors

POPULATION = "VN/GOV/BCA/population"
INSURANCE = "VN/GOV/BHXH/health-insurance"
BUSINESS = "VN/GOV/BTC/business-registry"
LAND = "VN/GOV/BNNMT/land-registry"
# A bank's tax code (MST); valid by stdnum.vn.mst, as SPEC section 8's scenario uses it.
BANK_MST = "0101234565"

CLIENT_MEMBERS = (
    {"id": "VN/GOV/BTP", "name": "Bộ Tư pháp"},
    {"id": "VN/GOV/BHXH", "name": "Bảo hiểm xã hội Việt Nam"},
    {"id": "VN/LOC/79", "name": "UBND TP. Hồ Chí Minh"},
    {"id": f"VN/COM/{BANK_MST}", "name": "Ngân hàng TMCP Minh Họa (demo)"},
)
CLIENT_SUBSYSTEMS = (
    {"id": "VN/GOV/BTP/civil-status", "name": "Hệ thống đăng ký và quản lý hộ tịch"},
    {"id": "VN/GOV/BHXH/social-insurance", "name": "Hệ thống quản lý bảo hiểm xã hội"},
    {"id": "VN/LOC/79/one-stop-portal", "name": "Cổng dịch vụ công TP. Hồ Chí Minh"},
    {"id": f"VN/COM/{BANK_MST}/ekyc", "name": "Định danh khách hàng điện tử (eKYC)"},
)
GRANTS: dict[str, tuple[str, ...]] = {
    "VN/GOV/BTP/civil-status": (
        f"{POPULATION}/citizen-lookup",
        f"{POPULATION}/citizen-batch-lookup",
        f"{POPULATION}/citizen-search",
        f"{POPULATION}/household-lookup",
        f"{POPULATION}/birth-registration",
        f"{POPULATION}/death-registration",
        f"{POPULATION}/residence-registration",
        f"{INSURANCE}/card-issue",
        f"{INSURANCE}/card-lookup",
    ),
    "VN/GOV/BHXH/social-insurance": (
        f"{POPULATION}/citizen-lookup",
        f"{POPULATION}/citizen-batch-lookup",
        f"{POPULATION}/citizen-verify",
        f"{INSURANCE}/card-lookup",
        f"{INSURANCE}/card-search",
    ),
    "VN/LOC/79/one-stop-portal": (
        f"{POPULATION}/citizen-verify",
        f"{POPULATION}/citizen-lookup",
        f"{BUSINESS}/enterprise-lookup",
        f"{BUSINESS}/enterprise-search",
        f"{BUSINESS}/enterprise-registration",
        f"{LAND}/parcel-lookup",
        f"{LAND}/parcel-batch-lookup",
        f"{LAND}/parcel-search",
        f"{LAND}/certificate-verify",
        f"{LAND}/land-transfer",
    ),
    f"VN/COM/{BANK_MST}/ekyc": (
        f"{POPULATION}/citizen-verify",
        f"{POPULATION}/citizen-search",
        f"{POPULATION}/citizen-batch-lookup",
    ),
    # The business registry subscribes to deaths (a legal representative who died), and the
    # population database, as a client, delivers them to the registry's citizen-events.
    BUSINESS: (
        f"{POPULATION}/citizen-verify",
        f"{POPULATION}/citizen-subscribe",
        f"{POPULATION}/citizen-subscriptions",
        f"{POPULATION}/citizen-unsubscribe",
        f"{BUSINESS}/citizen-events-received",
    ),
    POPULATION: (f"{BUSINESS}/citizen-events",),
    LAND: (f"{POPULATION}/citizen-verify", f"{BUSINESS}/enterprise-lookup"),
}


def demo_registry(base_urls: dict[str, str]) -> dict[str, Any]:
    """The full demo registry for the connectors in ``base_urls`` (name -> base URL).

    Discovered connectors without a base URL are left out, with their services and grants.
    """
    doc: dict[str, list[dict[str, Any]]] = {
        "members": [],
        "subsystems": [],
        "services": [],
        "grants": [],
    }
    for connector in connectors.all():
        if connector.name in base_urls:
            entry = connector.manifest.registry_entry(base_urls[connector.name])
            # One member may hold several connectors' subsystems (a ministry's registers):
            # listed twice, the registry refused it, and `hub up` did not start.
            _add_new(doc["members"], entry["members"])
            for key in ("subsystems", "services"):
                doc[key].extend(entry[key])
    _add_new(doc["members"], CLIENT_MEMBERS)
    _add_new(doc["subsystems"], CLIENT_SUBSYSTEMS)
    subsystems = {s["id"] for s in doc["subsystems"]}
    services = {s["id"] for s in doc["services"]}
    doc["grants"] = [
        {"client": client, "service": service}
        for client, granted in GRANTS.items()
        if client in subsystems
        for service in granted
        if service in services
    ]
    return doc


def _add_new(items: list[dict[str, Any]], new: Iterable[dict[str, Any]]) -> None:
    # A provider's member (BHXH) may also own a client subsystem: keep one entry per id.
    seen = {item["id"] for item in items}
    items.extend(dict(item) for item in new if item["id"] not in seen)
