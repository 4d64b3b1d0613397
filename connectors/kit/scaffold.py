"""``hub connectors new NAME``: write a working connector and its test from templates.

The connector (``connectors/<name>/``: manifest, models, dataset, app, README) serves a
lookup, a search and a create over records generated from the seed; discovery finds it by
its ``connector`` object, so ``hub up`` serves and registers it with no other change.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template

NAME_RE = re.compile(r"[a-z][a-z0-9_]{1,30}")  # fullmatch: "$" lets a final "\n" through
TEMPLATES = Path(__file__).parent / "templates"
# template file -> path of the output, relative to the project root
FILES = {
    "__init__.py.txt": "connectors/{name}/__init__.py",
    "manifest.py.txt": "connectors/{name}/manifest.py",
    "models.py.txt": "connectors/{name}/models.py",
    "dataset.py.txt": "connectors/{name}/dataset.py",
    "app.py.txt": "connectors/{name}/app.py",
    "README.md.txt": "connectors/{name}/README.md",
    "test.py.txt": "tests/connectors/test_{name}.py",
}


def project_root() -> Path:
    """Where a new connector goes by default: the source tree ``connectors`` is loaded from.

    That is where discovery looks; an installed copy (no ``pyproject.toml`` beside it) has no
    tree to write into, so the current directory is used instead.
    """
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else Path(".")


class ScaffoldError(ValueError):
    """The scaffold cannot be written; the message says why."""


def default_member_id(name: str) -> str:
    """The member a connector ``name`` belongs to when ``--member-id`` is not given."""
    return f"VN/GOV/{name.upper().replace('_', '-')}"


def scaffold(
    name: str,
    root: Path,
    *,
    member_id: str | None = None,
    member_name: str | None = None,
    taken: Mapping[str, str] | None = None,
    discovered: Sequence[Path] = (),
) -> list[Path]:
    """Write connector ``name`` under ``root`` (the project root); return the files written.

    ``taken`` maps the subsystem IDs already declared (by another connector, a demo client)
    to whose they are: a second subsystem of the same ID stopped `hub up`. ``discovered``
    are the folders discovery reads when ``root`` has none of them, where the package must
    be moved to be served.
    """
    if not NAME_RE.fullmatch(name):
        # "Permits", "land-permits", "Land Permits": the package name meant, said.
        meant = re.sub(r"[\s-]+", "_", name.strip().lower())
        such = f", such as {meant!r}" if NAME_RE.fullmatch(meant) else ""
        raise ScaffoldError(
            f"connector name {name!r}: use 2-31 lower-case letters, digits or '_', "
            f"starting with a letter (it becomes a Python package){such}"
        )
    if name == "kit" or keyword.iskeyword(name):
        # A keyword cannot be imported as connectors.<name>, and discovery imports them all:
        # such a package broke `hub up`, `hub mock` and `hub connectors list` for every one.
        what = "the connector kit's package" if name == "kit" else "a Python keyword"
        raise ScaffoldError(f"connector name {name!r} is {what}; choose another name")
    if member_name is not None and not member_name.strip():
        # The registry refuses it, and `hub up` with it.
        raise ScaffoldError("--member-name is blank: give the agency's name, or leave it out")
    member_id = member_id or default_member_id(name)
    if len(member_id.split("/")) != 3:
        raise ScaffoldError(f"member id {member_id!r} must be INSTANCE/CLASS/MEMBER")
    subsystem = f"{member_id}/{name.replace('_', '-')}"
    if taken and subsystem in taken:
        raise ScaffoldError(
            f"subsystem {subsystem} is already {taken[subsystem]}: choose another name, "
            "or another --member-id"
        )
    module = root / "connectors" / f"{name}.py"
    if module.exists():
        # The package would hide the module from every import of connectors.<name>
        # (connectors/demo.py is the demo registry `hub up` loads).
        raise ScaffoldError(
            f"connector name {name!r} is taken by the module {module}; choose another name"
        )
    for folder in discovered:
        for there in (folder / name, folder / f"{name}.py"):
            if there.exists():
                # Written elsewhere, the package could never be moved where it is served.
                raise ScaffoldError(
                    f"connector name {name!r} is taken where `hub mock` and `hub up` look for "
                    f"connectors ({there}); choose another name"
                )
    targets = {tmpl: root / path.format(name=name) for tmpl, path in FILES.items()}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing:
        raise ScaffoldError(
            f"connector name {name!r} is taken: refusing to overwrite {', '.join(existing)}; "
            "choose another name"
        )
    member_name = member_name or f"{name.replace('_', ' ').title()} agency"
    values = {
        "name": name,
        "slug": name.replace("_", "-"),
        "title": name.replace("_", " ").title(),
        "member_id": member_id,
        "member_name": member_name,
        "member_name_literal": _python_string(member_name),
    }
    texts = {
        target: _sort_own_imports(
            Template((TEMPLATES / tmpl).read_text(encoding="utf-8")).substitute(values)
        )
        for tmpl, target in targets.items()
    }
    _write_all(texts)
    return list(targets.values())


def _write_all(texts: dict[Path, str]) -> None:
    """Write every file or none: a folder it could not write into (``tests`` a file, say)
    left a package without its test, and running the command again refused to overwrite it."""
    made: list[Path] = []  # files and folders this call created, in that order
    try:
        for target, text in texts.items():
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            made += reversed(missing)  # before mkdir, which may stop halfway
            target.parent.mkdir(parents=True, exist_ok=True)
            made.append(target)
            target.write_text(text, encoding="utf-8")
    except OSError:
        for path in reversed(made):
            try:
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass  # not empty (someone else's file) or gone: leave it
        raise


def _python_string(text: str) -> str:
    """``text`` as a Python string literal, quoted as ruff's formatter would (a quote or a
    backslash in an agency's name once ended the literal, and the manifest did not parse)."""
    if '"' in text and "'" not in text:
        return repr(text)  # single quotes: none of the text's quotes to escape
    return json.dumps(text, ensure_ascii=False)


def _sort_own_imports(text: str) -> str:
    """Put each run of ``connectors`` imports in isort's order, which depends on the name.

    ``from connectors.kit ...`` goes before ``from connectors.permits ...`` but after
    ``from connectors.ferries ...``; sorted here, a new connector passes ``make lint`` as
    written.
    """
    lines = text.split("\n")
    out: list[str] = []
    run: list[str] = []

    def key(line: str) -> tuple[bool, str]:
        # Plain imports first, then from-imports, each by module (ruff's default order).
        return line.startswith("from "), line.split()[1]

    for line in [*lines, ""]:
        if line.startswith(("from connectors", "import connectors")):
            run.append(line)
            continue
        out += sorted(run, key=key)
        run = []
        out.append(line)
    return "\n".join(out[:-1])
