"""`hub keys`: API keys of client subsystems, straight on the database, as /admin/keys does."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from hub.cli.common import (
    DbOption,
    change_actor,
    console,
    err_console,
    fail,
    read_failed,
    run,
    settings,
    unsigned_note,
    up_to_date,
)
from hub.core.limits import KEY_GRACE_S, ROW_ID_MAX

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.core.settings import Settings

T = TypeVar("T")
WHAT = "the API keys"
SEEN = (
    "Hubs running on the database accept a new key at once (a hub sent a key it does not "
    "know checks the registry's version first) and refuse a revoked key, or a rotated one "
    "whose grace period ended, within HUB_REGISTRY_REFRESH_S (2 s by default)."
)

app = typer.Typer(
    help="API keys of client subsystems, straight on the database (as /admin/keys).\n\n"
    "Run it with the hub's own settings: HUB_DATABASE_URL (or --db) and HUB_SECRET_KEY, "
    "under which keys are hashed; a key issued under another secret is refused by the "
    "hub. The database must be at this hub's revision (`hub db upgrade`). " + SEEN,
    no_args_is_help=True,
)

KeyIdArg = typer.Argument(
    ..., min=1, max=ROW_ID_MAX, metavar="ID", help="The key's id, from `hub keys list`."
)
JsonOpt = typer.Option(False, "--json", help="Print the admin API's JSON instead.")

# --expires 90d: a time from now, in minutes, hours, days or weeks.
_FROM_NOW = re.compile(r"^\s*(\d{1,5})\s*(m|min|h|d|w)\s*$")
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# What to give instead, after pydantic's own words ("Input should be a valid datetime").
_HINTS = {
    "expires_at": "give a time such as 2030-01-01T00:00:00Z (UTC when no zone is given) or "
    "a span from now such as 90d, 12h, 30m or 2w",
    "grace_seconds": "give 0 to 2592000 (30 days)",
}


def _checked(model: type[BaseModel], flags: dict[str, str], **values: Any) -> Any:
    """``model`` of ``values``, as the admin API validates them; else exit 2 naming the flag."""
    from pydantic import ValidationError

    try:
        return model(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else ""
            message = str(e["msg"]).removeprefix("Value error, ")
            if e["type"] != "value_error" and field in _HINTS:  # the hub's own say what to do
                given = f" (it is {values[field]!r})" if isinstance(values[field], str) else ""
                message += f"{given}: {_HINTS[field]}"
            elif field == "expires_at" and " is no time" in message:
                # The admin API's advice knows no spans, which --expires takes as well.
                said = message.removeprefix("expires_at ").split(": give", 1)[0]
                message = f"{said}: {_HINTS[field]}"
            problems.append(f"{flags.get(field, field)}: {message}")
        fail("; ".join(problems), 2)


def _expiry(value: str | None) -> datetime | str | None:
    """``--expires``: a time (ISO 8601, UTC without a zone) or a span from now (90d)."""
    if value is None:
        return None
    if value.strip().isdigit():
        fail(
            f"--expires: {value.strip()} has no unit: give a time from now such as 90d, 12h, "
            "30m or 2w, or a time such as 2030-01-01T00:00:00Z",
            2,
        )
    if (span := _FROM_NOW.match(value)) is None:
        return value  # a time: KeyIn parses it as the API does
    amount, unit = int(span[1]), _UNIT[span[2]]
    return datetime.now(UTC) + timedelta(**{unit: amount})


def _open(db: str | None) -> Settings:
    """The settings, once the database is found at this hub's revision (never migrated:
    a running hub's database is upgraded by the operator, not as a side effect)."""
    s = settings(db)
    up_to_date(s.database_url, WHAT)
    return s


def _placeholder_note(s: Settings) -> None:
    """Warn of a key just made under the development secret; said only once a key was made,
    so that a refusal is its error alone."""
    from hub.core.settings import PLACEHOLDER

    if s.secret_key == PLACEHOLDER:
        _note(
            "[yellow]warning:[/yellow] HUB_SECRET_KEY is not set: the key is hashed under the "
            "development placeholder, and only a hub running without HUB_SECRET_KEY accepts it"
        )


async def _unregistered(session: AsyncSession, client: str) -> str:
    """``: no subsystem X is registered (did you mean Y?)`` for a --client the registry does
    not hold, else nothing: "no keys for" a misspelt client read as a client without keys."""
    from sqlalchemy import select

    from hub.models import Subsystem
    from hub.registry.service import meant

    if await session.get(Subsystem, client) is not None:
        return ""
    ids = set((await session.scalars(select(Subsystem.id))).all())
    return f": no subsystem {client} is registered{meant(client, ids)}"


def _note(text: str) -> None:
    err_console.print(text, highlight=False, soft_wrap=True)


def _on_database(s: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work`` in one transaction on the hub's database, committed when it returns."""
    from sqlalchemy.exc import SQLAlchemyError

    from hub.core.db import create_engine, session_factory
    from hub.registry.keys import KeyRefused
    from hub.registry.service import RegistryConflict

    async def go() -> T:
        engine = create_engine(s.database_url)
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return run(go())
    except RegistryConflict as exc:  # the API's 422
        fail(str(exc))
    except KeyRefused as exc:  # the API's 404 and 409
        fail(str(exc))
    except SQLAlchemyError as exc:
        read_failed(exc, s.database_url, WHAT)


def _when(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S} UTC" if t is not None else "-"


def _state(row: dict[str, Any], now: datetime) -> str:
    if row["revoked_at"] is not None:
        return f"revoked {_when(row['revoked_at'])}"
    ends = row["expires_at"]
    if ends is not None and ends <= now:
        return f"expired {_when(ends)}"
    state = "active" if ends is None else f"active until {_when(ends)}"
    # "active" alone read as a key that works: a hub with this secret refuses every call.
    return f"{state} (another secret)" if row.get("current_secret") is False else state


def _new_key(row: dict[str, Any], key: str, as_json: bool) -> None:
    """The new key alone on stdout (``KEY=$(hub keys issue ...)``), or the API's JSON."""
    if as_json:
        from hub.registry.schemas import NewKeyOut

        out = NewKeyOut.model_validate({**row, "api_key": key}).model_dump(mode="json")
        text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    else:
        text = key + "\n"
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:  # a full disk: the key is in the database, and no one has it
        fail(
            f"key {row['id']} was issued but could not be written out ({exc.strerror or exc}): "
            f"revoke it (`hub keys revoke {row['id']}`) and issue another"
        )


@app.command("issue")
def issue_cmd(
    client: str = typer.Argument(..., help="The client subsystem, e.g. VN/GOV/BTP/civil-status."),
    label: str = typer.Option("", "--label", help="A note kept with the key (200 characters)."),
    expires: str | None = typer.Option(
        None,
        "--expires",
        help="When the key stops working: a time (2030-01-01T00:00:00Z; UTC without a "
        "zone) or a span from now (90d, 12h, 30m, 2w). Default: never.",
    ),
    as_json: bool = JsonOpt,
    db: str | None = DbOption,
) -> None:
    """Issue a key for a client subsystem and print it (only it: notes go to stderr).

    The key is shown once: the database keeps only its prefix and a keyed hash.

    Hubs running on the database accept it at once.

    Example: hub keys issue VN/GOV/BTP/civil-status --label "one-stop portal" --expires 90d
    """
    from hub.registry import keys
    from hub.registry.schemas import KeyRequest

    flags = {"client": "CLIENT", "label": "--label", "expires_at": "--expires"}
    body = _checked(KeyRequest, flags, client=client, label=label, expires_at=_expiry(expires))
    s = _open(db)
    actor = change_actor(s)

    async def work(session: AsyncSession) -> tuple[dict[str, Any], str]:
        row, key = await keys.issue_key(
            session,
            secret=s.secret_key,
            client=body.client,
            label=body.label,
            expires_at=body.expires_at,
            actor=actor,
        )
        return keys.fields(row, s.secret_key), key

    row, key = _on_database(s, work)
    _placeholder_note(s)
    ends = f", expires {_when(row['expires_at'])}" if row["expires_at"] else ""
    _note(
        f"issued key {row['id']} for {row['client']} (prefix {row['prefix']}{ends}): it is "
        "shown once, store it now. Hubs running on this database accept it at once."
    )
    unsigned_note(s, actor)
    _new_key(row, key, as_json)


@app.command("list")
def list_cmd(
    client: str | None = typer.Option(None, "--client", help="Only this client's keys."),
    as_json: bool = JsonOpt,
    db: str | None = DbOption,
) -> None:
    """The keys: id, client, prefix, label, when made, and whether active (never the key)."""
    from pydantic import TypeAdapter, ValidationError

    from hub.core.settings import PLACEHOLDER
    from hub.registry import keys
    from hub.registry import repository as repo
    from hub.registry.schemas import KeyOut, SubsystemIdStr
    from hub.stats.output import Layout, col, emit, write_whole

    if client is not None:
        try:
            client = TypeAdapter(SubsystemIdStr).validate_python(client)
        except ValidationError as exc:
            problem = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            fail(f"--client: {problem}", 2)
    s = _open(db)

    async def work(session: AsyncSession) -> tuple[list[dict[str, Any]], str]:
        rows = [keys.fields(k, s.secret_key) for k in await repo.api_keys(session, client)]
        return rows, await _unregistered(session, client) if client and not rows else ""

    rows, unregistered = _on_database(s, work)
    if as_json:
        out = [KeyOut.model_validate(r).model_dump(mode="json") for r in rows]
        write_whole(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        if unregistered:
            _note(f"no keys for {client}{unregistered}")
        return
    now = datetime.now(UTC)
    table = [
        {**r, "created": _when(r["created_at"]), "state": _state(r, now), "label": r["label"]}
        for r in rows
    ]
    columns = ("id", "client", "prefix", "label", "created", "state")
    # Narrower, the label goes under its client, then the prefix too, and the state under
    # the time it was made: ids, prefixes and times whole.
    ident, made = col("id"), col("created\nstate", "created", "state")
    layouts = [
        Layout([*map(col, columns[:3]), col("label", wraps=["label"]), *map(col, columns[4:])]),
        Layout([ident, col("client\nlabel", "client", "label", wraps=["label"]), col("prefix"),
                made]),
        Layout([ident, col("client\nprefix\nlabel", "client", "prefix", "label",
                           wraps=["label"]), made]),
    ]  # fmt: skip
    emit({}, table, columns, title="API keys", as_json=False, as_csv=False, console=console,
         layouts=layouts)  # fmt: skip
    if not rows:
        _note(f"no keys for {client}{unregistered}" if client else "no keys")
    other = [str(r["id"]) for r in table if r["current_secret"] is False and _live(r, now)]
    if other:
        _note(
            f"[yellow]warning:[/yellow] {'keys' if len(other) > 1 else 'key'} {', '.join(other)} "
            f"{'were' if len(other) > 1 else 'was'} hashed under another HUB_SECRET_KEY than "
            "this one: a hub running with this secret refuses every call with "
            f"{'them' if len(other) > 1 else 'it'} (401). Run the hub with the secret they were "
            "made with, or issue new keys (docs/security.md, rotating secrets)"
            + (
                "; HUB_SECRET_KEY is not set here: run `hub keys list` with the hub's"
                if s.secret_key == PLACEHOLDER
                else ""
            )
        )


def _live(row: dict[str, Any], now: datetime) -> bool:
    ends = row["expires_at"]
    return row["revoked_at"] is None and (ends is None or ends > now)


@app.command("rotate")
def rotate_cmd(
    key_id: int = KeyIdArg,
    grace_seconds: int = typer.Option(
        KEY_GRACE_S,
        "--grace-seconds",
        help="How long the old key keeps working (0: it ends now; at most 30 days).",
    ),
    as_json: bool = JsonOpt,
    db: str | None = DbOption,
) -> None:
    """Replace a key: print the new one (only it); the old one works for the grace period.

    A key is rotated once: one rotated already, or issued with an expiry, is refused.

    Rotate the key that replaced it instead. A revoked or expired key is refused too.

    Hubs accept the new key at once; they refuse the old one within HUB_REGISTRY_REFRESH_S.
    """
    from hub.registry import keys
    from hub.registry import repository as repo
    from hub.registry.schemas import RotateIn

    grace = _checked(RotateIn, {"grace_seconds": "--grace-seconds"}, grace_seconds=grace_seconds)
    s = _open(db)
    actor = change_actor(s)

    async def work(session: AsyncSession) -> tuple[dict[str, Any], str, datetime | None]:
        rotated = await keys.rotate(
            session,
            secret=s.secret_key,
            key_id=key_id,
            grace_seconds=grace.grace_seconds,
            actor=actor,
        )
        if rotated is None:
            raise keys.KeyRefused(
                f"another change took key {key_id} at the same time; list the keys and retry",
                gone=False,
            )
        new, key = rotated
        old = await repo.get_key(session, key_id)
        return keys.fields(new, s.secret_key), key, keys.utc(old.expires_at) if old else None

    row, key, ends = _on_database(s, work)
    _placeholder_note(s)
    _note(
        f"rotated key {key_id}: it works until {_when(ends)}; the new key is {row['id']} "
        f"(prefix {row['prefix']}), shown once: store it now. " + SEEN
    )
    unsigned_note(s, actor)
    _new_key(row, key, as_json)


@app.command("revoke")
def revoke_cmd(key_id: int = KeyIdArg, db: str | None = DbOption) -> None:
    """Revoke a key: hubs running on the database refuse it within HUB_REGISTRY_REFRESH_S.

    Revoking a key revoked already changes nothing, and says when it was.
    """
    from hub.registry import keys

    s = _open(db)
    actor = change_actor(s)

    async def work(session: AsyncSession) -> tuple[dict[str, Any], bool]:
        row, before = await keys.revoke(session, key_id, actor)
        return keys.fields(row, s.secret_key), before

    row, before = _on_database(s, work)
    said = f"key {key_id} of {row['client']} (prefix {row['prefix']})"
    ended = row["expires_at"]
    if before:
        text = f"{said} was already revoked at {_when(row['revoked_at'])}; nothing changed"
    elif ended is not None and ended <= row["revoked_at"]:
        # "hubs refuse it within 2 s" read as if it had worked until now.
        text = (
            f"revoked {said}: it had expired already at {_when(ended)}, and hubs refused it "
            "since; the revocation is recorded"
        )
        unsigned_note(s, actor)
    else:
        text = (
            f"revoked {said}: hubs running on this database refuse it within "
            "HUB_REGISTRY_REFRESH_S (2 s by default)"
        )
        unsigned_note(s, actor)
    console.print(text, markup=False, highlight=False, soft_wrap=True)
