"""What an apply takes but warns about, since it is most often a mistake.

- A member code that no agency has: a local government member is named by its province's
  code, an enterprise by its enterprise code (DOMAIN.md, "Identifiers"). Such a code is
  well-formed (SPEC §4), so it is applied: most often it is a typo, or a province code from
  before the merger of 1 July 2025.
- A service that neither it nor its subsystem gives a ``base_url``: its calls answer 502
  until one is given (a service declared on a client subsystem by mistake, say).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hub.core.ids import parse_member
from hub.models import Service, Subsystem
from schemas import enterprise_code
from schemas.identifiers import OLD_PROVINCE_CODES, PROVINCES

_IN_FORCE = ", ".join(sorted(PROVINCES))


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
