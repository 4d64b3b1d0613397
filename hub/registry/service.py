"""Registry logic: declarative apply and export, admin changes (API keys: hub/registry/keys.py)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.core.hints import did_you_mean
from hub.core.ids import parse_member, parse_service, parse_subsystem
from hub.models import Grant, Member, Service, Subsystem
from hub.registry import repository as repo
from hub.registry.advice import colon_parameters, member_code_warnings, unreachable_services
from hub.registry.events import Actor, Change, grant_target, record, updated
from hub.registry.export import SERVICE_FIELDS as SERVICE_FIELDS
from hub.registry.export import SUBSYSTEM_OPTIONAL as SUBSYSTEM_OPTIONAL
from hub.registry.export import dump_yaml as dump_yaml
from hub.registry.export import export as export
from hub.registry.prune import (
    left_grants,
    left_out,
    prune_entries,
    pruned_services,
    same_endpoints,
)
from hub.registry.schemas import ApplyResult, RegistryDoc, ServiceIn, SubsystemIn
from hub.registry.yamlio import (
    RegistryFileError,
    describe,
    line_of,
    load,
    names_bad_identifier,
)


class RegistryConflict(ValueError):
    """A change that would leave the registry inconsistent (a dangling reference)."""


class CertificateTaken(RegistryConflict):
    """A subsystem given a certificate another subsystem of the registry holds."""


def parse_documents(texts: list[tuple[str, str]]) -> RegistryDoc:
    """Validate YAML texts (source, text) into one document; errors name file, line and key."""
    merged = RegistryDoc()
    earlier_files: dict[tuple[str, Any], Any] = {}  # (section, key) -> the entry
    for source, text in texts:
        data, node = load(text, source)
        try:
            doc = RegistryDoc.model_validate(data)
        except ValidationError as exc:
            raise RegistryFileError(
                describe(exc, source, node, RegistryDoc), malformed=names_bad_identifier(exc)
            ) from None
        _check_duplicates(doc, source, node)
        # The sections a file names, even empty: what prune_all may empty on purpose.
        merged.model_fields_set.update(doc.model_fields_set)
        for section in ("members", "subsystems", "services", "grants"):
            into = getattr(merged, section)
            for i, item in enumerate(getattr(doc, section)):
                earlier = earlier_files.get((section, _key(section, item)))
                if earlier is not None and _given(item) == _given(earlier):
                    # Declared alike by an earlier file (a provider's file and a client's
                    # both name their agency): one entry. Declared otherwise, apply refuses.
                    continue
                line = line_of(node, (section, i))
                merged._where[(section, len(into))] = f"{source}:{line}" if line else source
                merged._index[(section, len(into))] = i
                into.append(item)
        for section in ("members", "subsystems", "services", "grants"):
            for item in getattr(doc, section):
                earlier_files.setdefault((section, _key(section, item)), item)
    # References are checked by apply(), which knows what the database holds already.
    return merged


def _check_duplicates(doc: RegistryDoc, source: str, node: Any) -> None:
    for section in ("members", "subsystems", "services"):
        first: dict[str, int] = {}
        for i, item in enumerate(getattr(doc, section)):
            if item.id in first:
                line = line_of(node, (section, i))
                earlier = line_of(node, (section, first[item.id]))
                raise RegistryFileError(
                    f"{source}:{line}: {section}[{i}]: {item.id} appears twice "
                    f"(also at {source}:{earlier})"
                )
            first[item.id] = i


def _entry(doc: RegistryDoc, section: str, i: int) -> str:
    """Entry ``i`` of ``section`` as its file has it: ``file:line: section[index in file]``."""
    where = doc._where.get((section, i))
    named = f"{section}[{doc._index.get((section, i), i)}]"
    return f"{where}: {named}" if where else named


def _source(doc: RegistryDoc, section: str, i: int) -> str | None:
    """The file entry ``i`` of ``section`` was read from (None for a JSON body)."""
    where = doc._where.get((section, i))
    return where.rsplit(":", 1)[0] if where else None


def _key(section: str, item: Any) -> Any:
    return (item.client, item.service) if section == "grants" else item.id


def _given(item: Any) -> dict[str, Any]:
    return item.model_dump(exclude_unset=True)


def _differing(first: Any, second: Any) -> str:
    """How an entry that two files declare differs between them, as the refusal says it
    (files may declare one entry alike: parse_documents keeps one)."""
    a, b = _given(first), _given(second)
    fields = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    return f", with another {' and '.join(fields)}: declare it once, or alike in every file"


def _check_unique(doc: RegistryDoc) -> None:
    """Each entry once in all the files (or the body) together: which of two would count
    was a guess, and a new one given twice failed in the database (a 500)."""
    for section in ("members", "subsystems", "services", "grants"):
        first: dict[Any, int] = {}
        for i, item in enumerate(getattr(doc, section)):
            key = _key(section, item)
            if key in first:
                named = f"{key[0]} -> {key[1]}" if section == "grants" else key
                earlier = doc._where.get((section, first[key])) or f"{section}[{first[key]}]"
                said = f"{_entry(doc, section, i)}: {named} appears twice (also at {earlier})"
                if _source(doc, section, i) != _source(doc, section, first[key]):
                    said += _differing(getattr(doc, section)[first[key]], item)
                raise RegistryFileError(said)
            first[key] = i


def _check_references(doc: RegistryDoc, known: dict[str, set[str]] | None = None) -> None:
    known = known or {"members": set(), "subsystems": set(), "services": set()}
    members = known["members"] | {m.id for m in doc.members}
    subsystems = known["subsystems"] | {s.id for s in doc.subsystems}
    services = known["services"] | {s.id for s in doc.services}

    def refuse(section: str, i: int, problem: str) -> None:
        where = doc._where.get((section, i))
        raise RegistryFileError(f"{_entry(doc, section, i)}: {problem}" if where else problem)

    for i, s in enumerate(doc.subsystems):
        member = str(parse_subsystem(s.id).member)
        if member not in members:
            refuse(
                "subsystems",
                i,
                f"subsystem {s.id}: its member {member} is not declared{meant(member, members)}",
            )
    for i, svc in enumerate(doc.services):
        subsystem = str(parse_service(svc.id).subsystem)
        if subsystem not in subsystems:
            refuse(
                "services",
                i,
                f"service {svc.id}: its subsystem {subsystem} is not declared"
                f"{meant(subsystem, subsystems)}",
            )
    for i, g in enumerate(doc.grants):
        if g.client not in subsystems:
            refuse(
                "grants",
                i,
                f"grant {g.client} -> {g.service}: unknown client {g.client}"
                f"{meant(g.client, subsystems)}",
            )
        if g.service not in services:
            refuse(
                "grants",
                i,
                f"grant {g.client} -> {g.service}: unknown service {g.service}"
                f"{meant(g.service, services)}",
            )


def meant(given: str, known: set[str]) -> str:
    """`` (did you mean X?)`` for the id of ``known`` that ``given`` most likely misspells
    (a letter off, a transposition), else nothing: "unknown client" alone sent the reader
    looking for the id the files or the registry do hold."""
    return did_you_mean(given, known, cutoff=0.85)


SECTIONS = frozenset({"members", "subsystems", "services", "grants"})
# An empty file, one all comments, or an empty pipe (`make-registry | hub registry apply
# --prune-all -` after the first command failed) deleted every entry and key.
EMPTY_PRUNE_ALL = (
    "the document holds no entries (it is empty or all comments), so --prune-all (prune_all) "
    "would delete the whole registry, keys included; to empty it on purpose, name its "
    "sections empty (members: [])"
)

# Applied without --prune-all, the same changes nothing, and said so only as "created 0":
# the file a refused `hub connectors registry ... > FILE` leaves empty looked applied.
EMPTY_APPLY = (
    "the document holds no entries (empty, or all comments), so nothing was applied; write "
    "it again (a refused `hub connectors registry ... > FILE` leaves FILE empty)"
)


async def apply(
    session: AsyncSession,
    doc: RegistryDoc,
    *,
    prune: bool = False,
    prune_all: bool = False,
    keep_switches: bool = False,
    actor: Actor | None = None,
    summary: bool = True,
) -> ApplyResult:
    """Make the registry hold what ``doc`` says; idempotent. Caller commits (or rolls back,
    for a dry run: the result says what the commit would do).

    An upsert: an entry already there changes only in the fields ``doc`` gives, so a file
    with just a service's ``id`` and ``timeout_ms`` changes its timeout and nothing else; a
    new entry takes the defaults for what is left out.

    ``prune`` deletes what the document leaves out *within its scope* (``prune_scope``):
    the services of each subsystem it declares, and the grants between a client and a
    service it declares both of. ``prune_all`` deletes everything the document leaves out,
    for a document of the whole registry.

    With ``keep_switches``, an entry already there keeps its ``enabled`` as it is: `hub up`
    loads the demo registry at every start, and must not turn back on what an operator
    disabled through the API since.

    Each entry changed is an event of ``actor``'s (hub/registry/events.py), and with
    ``summary`` the apply itself too (registry.apply, with the counts); none when nothing
    changed.
    """
    await repo.hold(session)  # what it compares with is what it changes (events.py)
    now = repo.utcnow()
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    changes: list[str] = []
    trail: list[Change] = []
    existing: dict[str, dict[str, Any]] = {
        "members": {m.id: m for m in await repo.members(session)},
        "subsystems": {s.id: s for s in await repo.subsystems(session)},
        "services": {s.id: s for s in await repo.services(session)},
    }
    current_grants = {(g.client_id, g.service_id): g for g in await repo.grants(session)}
    _check_unique(doc)
    if prune_all and not doc.model_fields_set & SECTIONS:
        raise RegistryConflict(EMPTY_PRUNE_ALL)
    if prune_all:
        known = None  # the document must hold everything it refers to
    else:
        # What the database holds may be referred to, unless this very apply prunes it.
        known = {k: set(v) for k, v in existing.items()}
        if prune:
            known["services"] -= pruned_services(doc, existing["services"])
    _check_references(doc, known)

    def upsert(section: str, key: str, model: type, fields: dict[str, Any], given: set[str]) -> Any:
        kind = section[:-1]
        row = existing[section].get(key)
        if row is None:
            row = model(id=key, created_at=now, updated_at=now, **fields)
            session.add(row)
            counts["created"] += 1
            changes.append(f"create {kind} {key}")
            trail.append(
                Change(f"{kind}.create", key, {k: fields[k] for k in given if k in fields})
            )
            return row
        # Fields the document leaves out keep their stored values (the rest of ``fields``
        # follows from the id, and is the same).
        fields = {k: v for k, v in fields.items() if k in given}
        if keep_switches:
            fields.pop("enabled", None)
        changed = {k: v for k, v in fields.items() if getattr(row, k) != v}
        if changed:
            trail.append(Change(f"{kind}.update", key, updated(row, changed)))
            for k, v in changed.items():
                setattr(row, k, v)
            row.updated_at = now
            counts["updated"] += 1
            changes.append(f"update {kind} {key}: {', '.join(changed)}")
        else:
            counts["unchanged"] += 1
        return row

    for m in doc.members:
        mid = parse_member(m.id)
        upsert(
            "members",
            m.id,
            Member,
            {
                "instance": mid.instance,
                "member_class": mid.member_class,
                "member_code": mid.member_code,
                "name": m.name,
                "enabled": m.enabled,
            },
            m.model_fields_set,
        )
    await session.flush()
    # A unique index holds the certificates, and a document may move one to another
    # subsystem or swap two: the new ones are written last, once the old ones are let go.
    held: list[tuple[Subsystem, str]] = []
    for s in doc.subsystems:
        sid = parse_subsystem(s.id)
        fields = _subsystem_fields(s, str(sid.member), sid)
        before = getattr(existing["subsystems"].get(s.id), "cert_sha256", None)
        row = upsert("subsystems", s.id, Subsystem, fields, s.model_fields_set)
        if row.cert_sha256 is not None and row.cert_sha256 != before:
            held.append((row, row.cert_sha256))
            row.cert_sha256 = None
    await session.flush()
    for svc in doc.services:
        upsert("services", svc.id, Service, _service_fields(svc), svc.model_fields_set)
    await session.flush()

    for g in sorted(doc.grants, key=lambda g: (g.client, g.service)):
        grant = current_grants.get((g.client, g.service))
        named = f"grant {g.client} -> {g.service}"
        if grant is None:
            session.add(
                Grant(client_id=g.client, service_id=g.service, enabled=g.enabled, created_at=now)
            )
            counts["created"] += 1
            changes.append(f"create {named}")
            target = grant_target(g.client, g.service)
            trail.append(Change("grant.create", target, {"enabled": g.enabled}))
        elif "enabled" in g.model_fields_set and grant.enabled != g.enabled and not keep_switches:
            grant.enabled = g.enabled
            counts["updated"] += 1
            changes.append(f"update {named}: enabled")
            trail.append(
                Change(
                    "grant.update",
                    grant_target(g.client, g.service),
                    {"enabled": {"from": not g.enabled, "to": g.enabled}},
                )
            )
        else:
            counts["unchanged"] += 1

    if prune or prune_all:
        await prune_entries(
            session, doc, existing, current_grants, everything=prune_all, into=changes, trail=trail
        )
        counts["deleted"] = sum(c.startswith("delete ") for c in changes)

    claimed: dict[str, int] = {}
    for i, s in enumerate(doc.subsystems):
        if s.cert_sha256 is None:
            continue
        if s.cert_sha256 in claimed:
            first = claimed[s.cert_sha256]
            raise RegistryConflict(
                f"{_entry(doc, 'subsystems', i)}: certificate {s.cert_sha256} is given to "
                f"both {doc.subsystems[first].id} ({_entry(doc, 'subsystems', first)}) and "
                f"{s.id}: a certificate proves one subsystem"
            )
        claimed[s.cert_sha256] = i
        holder = await cert_holder(session, s.cert_sha256, besides=s.id)
        if holder:
            raise CertificateTaken(
                f"{_entry(doc, 'subsystems', i)}: {cert_taken(s.cert_sha256, holder)}"
            )
    for row, cert in held:
        row.cert_sha256 = cert
    await session.flush()

    if counts["created"] or counts["updated"] or counts["deleted"]:
        if summary:
            done = {k: counts[k] for k in ("created", "updated", "deleted", "unchanged")}
            options = {"prune": prune, "prune_all": prune_all, "keep_switches": keep_switches}
            trail.append(
                Change(
                    "registry.apply",
                    "registry",
                    {**done, **{k: v for k, v in options.items() if v}},
                )
            )
        await record(session, actor, trail)
    services = await repo.services(session)
    touched = {svc.id for svc in doc.services}
    warnings = [
        *member_code_warnings(m.id for m in doc.members),
        *unreachable_services(services, await repo.subsystems(session), touched),
        *same_endpoints(services, touched),
        *colon_parameters(services, touched),
    ]
    if not doc.model_fields_set & SECTIONS:
        warnings.insert(0, EMPTY_APPLY)
    notes = []
    if prune and not prune_all:
        notes = left_grants(doc, [(g.client_id, g.service_id) for g in await repo.grants(session)])
    elif not prune_all:
        notes = left_out(doc, existing["services"], list(current_grants))
    return ApplyResult(
        notes=notes,
        created=counts["created"],
        updated=counts["updated"],
        deleted=counts["deleted"],
        unchanged=counts["unchanged"],
        changes=changes,
        warnings=warnings,
    )


async def cert_holder(session: AsyncSession, cert: str, *, besides: str) -> str | None:
    """Another subsystem registered with ``cert``: the gateway maps a certificate to one
    subsystem, so a second holder left one of the two silently unproven."""
    return await repo.subsystem_with_cert(session, cert, besides=besides)


def cert_taken(cert: str, holder: str) -> str:
    return (
        f"certificate {cert} is registered for {holder} already: a certificate proves one "
        "subsystem; clear it there first (cert_sha256: null)"
    )


def _subsystem_fields(s: SubsystemIn, member_id: str, sid: Any) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "code": sid.subsystem_code,
        "name": s.name,
        "base_url": s.base_url,
        "enabled": s.enabled,
        **{k: getattr(s, k) for k in SUBSYSTEM_OPTIONAL},
    }


def _service_fields(svc: ServiceIn) -> dict[str, Any]:
    sid = parse_service(svc.id)
    fields = svc.model_dump(include=set(SERVICE_FIELDS))
    fields["endpoints"] = [e.model_dump() for e in svc.endpoints]
    return {"subsystem_id": str(sid.subsystem), "code": sid.service_code, **fields}
