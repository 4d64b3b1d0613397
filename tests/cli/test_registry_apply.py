"""`hub registry apply` writes only to a database that exists, and says which; files that
are not UTF-8 and base URLs it would refuse are said in one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app

MEMBER = "members:\n  - id: VN/GOV/BCA\n    name: Bộ Công an\n"


@pytest.fixture
def upgraded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in ``tmp_path``, whose HUB_DATABASE_URL is a migrated SQLite database there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return runner


def test_apply_makes_no_database_and_names_the_one_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # another folder: the default var/hub.db is not the hub's
    # Set, then removed: --db below sets it (for `hub serve`'s workers), and it is put back.
    monkeypatch.setenv("HUB_DATABASE_URL", "")
    monkeypatch.delenv("HUB_DATABASE_URL")
    (tmp_path / "reg.yaml").write_text(MEMBER, encoding="utf-8")
    runner = CliRunner()
    for dry in ([], ["--dry-run"]):
        result = runner.invoke(app, ["registry", "apply", *dry, "reg.yaml"])
        assert result.exit_code == 2, result.output
        said = " ".join(result.output.split())
        assert f"there is no database at {tmp_path / 'var' / 'hub.db'}" in said
        assert "`hub db upgrade` creates a new one" in said
        assert not (tmp_path / "var").exists()  # neither the file nor its folder

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["registry", "apply", "reg.yaml"])
    assert result.exit_code == 0, result.output
    assert f"applied to {tmp_path / 'var' / 'hub.db'}" in result.output
    assert "create member VN/GOV/BCA" in result.output

    db = tmp_path / "elsewhere.db"
    result = runner.invoke(
        app, ["registry", "apply", "--db", f"sqlite+aiosqlite:///{db}", "reg.yaml"]
    )
    assert result.exit_code == 2 and not db.exists(), result.output


@pytest.mark.parametrize(
    ("data", "line", "byte"),
    [
        (MEMBER.replace("Bộ Công an", "B\xf4 C\xf4ng an").encode("latin-1"), 3, "0xf4"),
        (MEMBER.encode("utf-16"), 1, "0xff"),  # Notepad's "Unicode": a BOM of FF FE
    ],
    ids=["latin-1", "utf-16"],
)
def test_a_file_that_is_not_utf8_is_named_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, line: int, byte: str
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    reg = tmp_path / "reg.yaml"
    reg.write_bytes(data)
    result = CliRunner().invoke(app, ["registry", "apply", str(reg)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not a UnicodeDecodeError traceback
    said = " ".join(result.output.split())
    assert said == f"error: {reg}: not UTF-8 (byte {byte} at line {line}); save it as UTF-8"
    result = CliRunner().invoke(app, ["registry", "apply", "-"], input=data)
    assert result.exit_code == 2, result.output
    assert f"<stdin>: not UTF-8 (byte {byte} at line {line})" in result.output


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("localhost:9110", "must start with http:// or https://"),
        ("http://127.0.0.1:99999", "has a port out of range"),
        ("http://127.0.0.1:9110/?x=1", "has a query or fragment"),
    ],
)
def test_connectors_registry_refuses_a_base_url_apply_would_refuse(url: str, said: str) -> None:
    result = CliRunner().invoke(app, ["connectors", "registry", "population", "--base-url", url])
    assert result.exit_code == 2, result.output
    assert f"error: --base-url {url!r} {said}" in " ".join(result.output.split())
    assert "members:" not in result.output  # no YAML to apply


def test_connectors_registry_output_applies(tmp_path: Path, upgraded: CliRunner) -> None:
    runner = upgraded
    result = runner.invoke(
        app, ["connectors", "registry", "land", "--base-url", "http://127.0.0.1:9603/"]
    )
    assert result.exit_code == 0, result.output
    (tmp_path / "land.yaml").write_text(result.stdout, encoding="utf-8")
    result = runner.invoke(app, ["registry", "apply", str(tmp_path / "land.yaml")])
    assert result.exit_code == 0, result.output
    assert "base_url: http://127.0.0.1:9603\n" in runner.invoke(app, ["registry", "export"]).output


CONNECTOR = """\
members:
  - id: VN/LOC/01
    name: Permits office
subsystems:
  - id: VN/LOC/01/permits
    base_url: http://127.0.0.1:8010
  - id: VN/LOC/01/portal
services:
  - id: VN/LOC/01/permits/record-lookup
    endpoints:
      - {method: GET, path: "/records/{id}"}
    timeout_ms: 5000
grants:
  - client: VN/LOC/01/portal
    service: VN/LOC/01/permits/record-lookup
"""


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            CONNECTOR.replace("timeout_ms: 5000", "timeout_ms: fast"),
            "reg.yaml:12: services[0].timeout_ms: Input should be a valid integer, unable to "
            "parse string as an integer (got 'fast')",
        ),
        (
            CONNECTOR.replace("  - id: VN/LOC/01/portal\n", "  - id: VN/LOC/01/permits\n"),
            "reg.yaml:7: subsystems[1]: VN/LOC/01/permits appears twice (also at reg.yaml:5)",
        ),
        (
            CONNECTOR.replace("  - id: VN/LOC/01\n    name: Permits office\n", "  - VN/LOC/01\n"),
            "reg.yaml:2: members[0]: an entry is a mapping (id: ... and its other keys), "
            "not 'VN/LOC/01'",
        ),
        (
            # A grant has no id: the message told to write one.
            CONNECTOR.replace(
                "  - client: VN/LOC/01/portal\n    service: VN/LOC/01/permits/record-lookup\n",
                "  - VN/LOC/01/portal VN/LOC/01/permits/record-lookup\n",
            ),
            "reg.yaml:14: grants[0]: an entry is a mapping (client: ... and service: ...), not "
            "'VN/LOC/01/portal VN/LOC/01/permits/record-lookup'",
        ),
        (
            CONNECTOR.replace('"/records/{id}"}', '"/records/{id}"'),
            "reg.yaml:12: not valid YAML: expected ',' or '}', but got '<scalar>' (in the "
            "flow mapping that starts at line 11)",
        ),
        (
            CONNECTOR.replace("  - id: VN/LOC/01\n", "\t- id: VN/LOC/01\n"),
            "reg.yaml:2: not valid YAML: found character '\\t' that cannot start any token; "
            "YAML indents with spaces, not tabs",
        ),
        (
            CONNECTOR.replace("name: Permits office", "name: Permits: office"),
            "reg.yaml:3: not valid YAML: mapping values are not allowed here; a value "
            "holding ': ' goes in quotes (name: \"a: b\"), and a key is indented as the keys "
            "beside it",
        ),
        (
            CONNECTOR.replace("    timeout_ms: 5000", "     timeout_ms: 5000"),
            "reg.yaml:12: not valid YAML: expected <block end>, but found '<block mapping "
            "start>' (in the block mapping that starts at line 9); indent this line as the "
            "keys or list items beside it",
        ),
        (
            CONNECTOR.replace("    base_url: http", "    base_url http"),
            "reg.yaml:7: not valid YAML: could not find expected ':' (in the simple key that "
            "starts at line 6); write each key as 'key: value', with a space after the colon",
        ),
    ],
    ids=[
        "wrong type",
        "duplicate id",
        "entry not a mapping",
        "grant not a mapping",
        "unclosed brace",
        "tab",
        "colon in a value",
        "indentation",
        "no colon",
    ],
)
def test_a_refused_file_says_where_and_what_and_changes_nothing(
    tmp_path: Path, upgraded: CliRunner, text: str, said: str
) -> None:
    runner = upgraded
    (tmp_path / "good.yaml").write_text(CONNECTOR, encoding="utf-8")
    assert runner.invoke(app, ["registry", "apply", "good.yaml"]).exit_code == 0
    before = runner.invoke(app, ["registry", "export"]).output
    (tmp_path / "reg.yaml").write_text(text.replace("5000", "6000"), encoding="utf-8")
    result = runner.invoke(app, ["registry", "apply", "reg.yaml"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.output == f"error: {said}\n"
    assert runner.invoke(app, ["registry", "export"]).output == before


def test_apply_help_says_what_happens_to_entries_the_files_leave_out() -> None:
    result = CliRunner().invoke(app, ["registry", "apply", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    said = " ".join(result.output.replace("│", " ").split())
    assert "Entries the registry holds that the files leave out stay" in said
    assert "--dry-run" in said and "change nothing" in said


def test_a_section_whose_entries_are_all_commented_out_is_empty(
    tmp_path: Path, upgraded: CliRunner
) -> None:
    # `grants:` with nothing under it is YAML's null; it was refused as "not a valid list".
    runner = upgraded
    grants = CONNECTOR.index("grants:\n")
    text = (
        CONNECTOR[:grants]
        + "grants:\n"
        + "".join(f"#{line}\n" for line in CONNECTOR[grants:].splitlines()[1:])
    )
    (tmp_path / "reg.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["registry", "apply", "reg.yaml"])
    assert result.exit_code == 0, result.output
    exported = runner.invoke(app, ["registry", "export"]).output
    assert "VN/LOC/01/permits/record-lookup" in exported
    assert "client: VN/LOC/01/portal" not in exported


def test_a_file_given_twice_is_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `hub registry apply reg/*.yaml reg/permits.yaml`: every entry "appeared twice" at the
    # same line of the same file, which pointed at no mistake in it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reg.yaml").write_text(MEMBER, encoding="utf-8")
    result = CliRunner().invoke(app, ["registry", "apply", "reg.yaml", str(tmp_path / "reg.yaml")])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        f"error: {tmp_path / 'reg.yaml'}: this file is given twice; give each file once"
    )


def test_a_file_of_no_entries_is_warned_about(tmp_path: Path, upgraded: CliRunner) -> None:
    # `hub connectors registry permits --base-url localhost:8010 > permits.yaml` is refused,
    # and leaves permits.yaml empty: applied, it said "created 0, ..." as a file that changed
    # nothing.
    runner = upgraded
    for text in ("", "# nothing yet\n"):
        (tmp_path / "permits.yaml").write_text(text, encoding="utf-8")
        result = runner.invoke(app, ["registry", "apply", "permits.yaml"])
        assert result.exit_code == 0, result.output
        said = " ".join(result.stderr.split())
        assert "warning: the document holds no entries (empty, or all comments)" in said, said
    # Sections named empty are no mistake.
    (tmp_path / "permits.yaml").write_text("grants: []\n", encoding="utf-8")
    result = runner.invoke(app, ["registry", "apply", "permits.yaml"])
    assert result.exit_code == 0 and "warning" not in result.output, result.output


@pytest.mark.parametrize(("escape", "said"), [("\\udc00", "lone surrogate"), ("\\0", "NUL")])
def test_a_character_no_database_stores_is_refused_with_its_line(
    tmp_path: Path, upgraded: CliRunner, escape: str, said: str
) -> None:
    # YAML's "\udc00" is half of a UTF-16 pair, no character: a traceback from SQLite before;
    # a NUL was named at the file's first line, not its entry's.
    text = MEMBER + (
        "subsystems:\n  - id: VN/GOV/BCA/pop\n    base_url: http://127.0.0.1:9\n"
        f'services:\n  - id: VN/GOV/BCA/pop/s\n    description: "x{escape}y"\n'
    )
    (tmp_path / "reg.yaml").write_text(text, encoding="utf-8")
    for dry in (["--dry-run"], []):
        result = upgraded.invoke(app, ["registry", "apply", *dry, "reg.yaml"])
        assert result.exit_code == 2, result.output
        output = " ".join(result.output.split())
        assert f"reg.yaml:8: services[0]: description holds a {said}" in output, output
    assert "VN/GOV/BCA" not in upgraded.invoke(app, ["registry", "export"]).output
