"""What an apply takes but warns about, since it is most often a mistake.

- A member code that no agency has: a local government member is named by its province's
  code, an enterprise by its enterprise code (DOMAIN.md, "Identifiers"). Such a code is
  well-formed (SPEC §4), so it is applied: most often it is a typo, or a province code from
  before the merger of 1 July 2025.
- A service that neither it nor its subsystem gives a ``base_url``: its calls answer 502
  until one is given (a service declared on a client subsystem by mistake, say).
- An endpoint segment written as Express or Rails write a parameter (``/records/:id``): ``:``
  may stand in a segment, so it is applied, but as text: only ``/records/:id`` itself
  matches it, and every real call is refused as an endpoint the service does not offer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from hub.core.ids import parse_member
from hub.models import Service, Subsystem
from schemas import enterprise_code
from schemas.identifiers import OLD_PROVINCE_CODES, PROVINCES

_IN_FORCE = ", ".join(sorted(PROVINCES))
# A whole segment that is ":" and a name: a parameter in Express's and Rails's routes.
_COLON_PARAM = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


def member_code_warnings(members: Iterable[str]) -> list[str]:
    """A warning for each member id of ``members`` whose code names no province (class LOC)
    or enterprise (class COM)."""
    warnings = []
    for member in members:
        problem = _problem(member)
        if problem is not None:
            warnings.append(f"{member}: {problem}")
    return warnings


def _problem(member: str) -> str | None:
    mid = parse_member(member)
    code = mid.member_code
    if mid.member_class == "LOC":
        # A commune's people's committee (5 digits) may be a member of its own.
        if code in PROVINCES or (len(code) == 5 and code.isdigit()):
            return None
        if code in OLD_PROVINCE_CODES:
            return (
                f"{code} was a province code before the merger of 1 July 2025 and names no "
                f"province now; the provinces' codes since are {_IN_FORCE}"
            )
        return (
            "a local government member's code is its province's code since 1 July 2025 "
            f"(two digits: {_IN_FORCE}), or a commune's (five digits)"
        )
    if mid.member_class == "COM" and not enterprise_code.is_valid(code):
        return (
            f"{code} is no enterprise code: an enterprise member's code is its enterprise "
            "(tax) code, 10 digits whose last is the check digit (python-stdnum's "
            "stdnum.vn.mst checks one)"
        )
    return None


def unreachable_services(
    services: Sequence[Service], subsystems: Sequence[Subsystem], touched: set[str]
) -> list[str]:
    """A warning for each service of ``touched`` that has no base URL, nor its subsystem."""
    bases = {s.id: s.base_url for s in subsystems}
    return [
        f"{svc.id}: neither it nor its subsystem {svc.subsystem_id} has a base_url, so its "
        "calls answer 502 until one is given (a provider's subsystem has base_url: "
        "http://...; a client's has none)"
        for svc in services
        if svc.id in touched and not svc.base_url and not bases.get(svc.subsystem_id)
    ]


def colon_parameters(services: Sequence[Service], touched: set[str]) -> list[str]:
    """A warning for each endpoint of a service of ``touched`` with a segment ``:name``."""
    warnings = []
    for svc in services:
        if svc.id not in touched:
            continue
        for e in svc.endpoints or []:
            found = [p for p in e["path"].split("/") if _COLON_PARAM.fullmatch(p)]
            if found:
                named = " and ".join(repr(p) for p in found)
                warnings.append(
                    f"{svc.id}: {e['method']} {e['path']} takes {named} as text, matched "
                    f"only as written; a parameter is written {{{found[0][1:]}}}"
                )
    return warnings
