"""`hub connectors new` writes a connector that discovery finds and whose own test passes."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

import connectors
from connectors.kit import ProviderError
from connectors.kit.scaffold import project_root
from hub.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
# Adds the scaffold's folder to the real `connectors` package, as if it had been written into
# the project, before the scaffold's own test is collected.
CONFTEST = """
import connectors
connectors.__path__.append({path!r})
connectors.refresh()
"""


def test_scaffolded_connector_passes_its_own_test(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["connectors", "new", "sample_agency", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    # Written outside this project: discovery will not see it, and the command says so.
    assert "look for connectors in" in result.output
    package = tmp_path / "connectors" / "sample_agency"
    test = tmp_path / "tests" / "connectors" / "test_sample_agency.py"
    assert (package / "README.md").exists() and test.exists()
    (tmp_path / "tests" / "conftest.py").write_text(
        CONFTEST.format(path=str(tmp_path / "connectors"))
    )
    pytest_args = ["-q", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml")]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args, "--rootdir", str(tmp_path), str(test)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout
    # `make lint` passes on it as written (first-party as it would be inside the project).
    own = "lint.isort.known-first-party = ['connectors', 'schemas', 'hub']"
    config = ["--config", str(ROOT / "pyproject.toml"), "--config", own]
    for args in (["check", *config], ["format", "--check", *config]):
        lint = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(package), str(test)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
    again = CliRunner().invoke(app, ["connectors", "new", "sample_agency", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


def test_bad_names_are_refused(tmp_path: Path) -> None:
    for name, why in (
        ("Bad-Name", "lower-case letters"),
        ("x", "lower-case letters"),
        ("permits\n", "lower-case letters"),  # "$" matches before a final newline
        ("kit", "the connector kit's package"),
        ("def", "a Python keyword"),  # `import connectors.def` is a syntax error
        ("class", "a Python keyword"),
    ):
        result = CliRunner().invoke(app, ["connectors", "new", name, "--dir", str(tmp_path)])
        assert result.exit_code == 2 and why in result.output, (name, result.output)
    assert not (tmp_path / "connectors").exists()


@pytest.mark.parametrize(
    ("name", "meant"),
    [("Permits", "permits"), ("land-permits", "land_permits"), ("Land Permits", "land_permits")],
)
def test_a_bad_name_is_told_the_package_name_it_likely_meant(
    tmp_path: Path, name: str, meant: str
) -> None:
    # "use 2-31 lower-case letters, digits or '_'" left the newcomer to work the name out.
    result = CliRunner().invoke(app, ["connectors", "new", name, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        f"error: connector name {name!r}: use 2-31 lower-case letters, digits or '_', starting "
        f"with a letter (it becomes a Python package), such as {meant!r}"
    )
    # No guess when none would do.
    result = CliRunner().invoke(app, ["connectors", "new", "1", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and result.output.rstrip().endswith("Python package)")
    assert not (tmp_path / "connectors").exists()


def test_a_name_of_a_module_of_the_package_is_refused(tmp_path: Path) -> None:
    # connectors/demo/ would hide connectors/demo.py (the demo registry) and break `hub up`.
    (tmp_path / "connectors").mkdir()
    (tmp_path / "connectors" / "demo.py").write_text("")
    result = CliRunner().invoke(app, ["connectors", "new", "demo", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "demo.py" in result.output, result.output
    assert not (tmp_path / "connectors" / "demo").exists()
    assert (ROOT / "connectors" / "demo.py").is_file()  # the name the default root refuses


def test_outside_the_project_a_name_taken_where_discovery_looks_is_refused(
    tmp_path: Path,
) -> None:
    # The note says to move the package into the folder discovery reads, where a package
    # (population) or module (demo) of that name already is.
    for name, there in (("population", "population"), ("demo", "demo.py")):
        result = CliRunner().invoke(app, ["connectors", "new", name, "--dir", str(tmp_path)])
        assert result.exit_code == 2, (name, result.output)
        said = " ".join(result.output.split())
        assert f"connector name {name!r} is taken where" in said, said
        assert str(ROOT / "connectors" / there) in said, said
    assert not (tmp_path / "connectors").exists()


def test_a_known_member_keeps_its_name(tmp_path: Path) -> None:
    # "Passports agency" in the manifest renamed Bộ Công an in the registry once applied.
    for member, name in (("VN/GOV/BCA", "Bộ Công an"), ("VN/GOV/BTP", "Bộ Tư pháp")):
        code = member.rsplit("/", 1)[1].lower()
        args = ["connectors", "new", f"sys_{code}", "--dir", str(tmp_path), "--member-id", member]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        manifest = tmp_path / "connectors" / f"sys_{code}" / "manifest.py"
        assert f'member_name="{name}"' in manifest.read_text(encoding="utf-8")


def test_any_member_name_makes_a_manifest_that_imports(tmp_path: Path) -> None:
    # A quote ended the string literal: the manifest did not parse, and since discovery
    # imports every connector, `hub up` and `hub mock` failed for all of them.
    for i, name in enumerate(('Sở "Xây dựng"', "Sở 'A' và \"B\"", "C:\\N\\x")):
        args = ["connectors", "new", f"named{i}", "--dir", str(tmp_path), "--member-name", name]
        assert CliRunner().invoke(app, args).exit_code == 0
        text = (tmp_path / "connectors" / f"named{i}" / "manifest.py").read_text("utf-8")
        call = next(
            node
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.keyword) and node.arg == "member_name"
        )
        assert ast.literal_eval(call.value) == name


def test_a_blank_member_name_is_refused(tmp_path: Path) -> None:
    # The registry refuses a name of spaces: `hub up` did not start with such a connector.
    for blank in ("", "   "):
        args = ["connectors", "new", "blanky", "--dir", str(tmp_path), "--member-name", blank]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and "--member-name" in result.output, result.output
    assert not (tmp_path / "connectors").exists()


def test_a_member_id_the_registry_would_refuse_is_refused(tmp_path: Path) -> None:
    for member, why in (
        ("VN/LOC/a b", "a b"),
        ("VN/ABC/01", "unknown member class"),
        ("XX/GOV/ABC", "XX"),
        ("VN/LOC", "INSTANCE/CLASS/MEMBER"),
    ):
        args = ["connectors", "new", "zz", "--dir", str(tmp_path), "--member-id", member]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and why in result.output, (member, result.output)
    assert not (tmp_path / "connectors").exists()


def test_by_default_a_connector_goes_where_discovery_looks() -> None:
    assert project_root().resolve() == ROOT
    assert (ROOT / "connectors").resolve() in [Path(p).resolve() for p in connectors.__path__]


def test_scaffold_outside_the_project_does_not_say_to_serve_it_as_it_is(tmp_path: Path) -> None:
    # From an installed hub the scaffold goes to the current directory, which discovery does
    # not read: `hub mock NAME` right after it answered "no connector named NAME".
    result = CliRunner().invoke(app, ["connectors", "new", "permits", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "next: hub mock permits" not in result.output
    assert "move the package there" in result.output and "hub mock permits" in result.output
    assert "permits" not in connectors.names()


def test_a_folder_it_cannot_write_into_is_named_as_such(tmp_path: Path) -> None:
    # It said "error: cannot write the output: [Errno 20] Not a directory: ...", the message
    # of a full disk under the command's output, which this is not.
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "hub", "connectors", "new", "permits", "--dir", str(not_a_folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {not_a_folder}/connectors"), done.stderr
    assert done.stderr.endswith(": Not a directory\n") and done.stderr.count("\n") == 1


def test_the_default_member_id_of_a_known_member_keeps_its_name(tmp_path: Path) -> None:
    # `new bca` (member VN/GOV/BCA by default) wrote "Bca agency": applying its registry file
    # renamed Bộ Công an.
    result = CliRunner().invoke(app, ["connectors", "new", "bca", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    manifest = (tmp_path / "connectors" / "bca" / "manifest.py").read_text(encoding="utf-8")
    assert 'member_name="Bộ Công an"' in manifest


def test_a_subsystem_already_declared_is_refused(tmp_path: Path) -> None:
    # A second VN/GOV/BHXH/health-insurance stopped `hub up`: "appears twice".
    for name, whose in (
        ("health_insurance", "the insurance connector's"),
        ("social_insurance", "a demo client's"),
    ):
        args = ["connectors", "new", name, "--dir", str(tmp_path), "--member-id", "VN/GOV/BHXH"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"VN/GOV/BHXH/{name.replace('_', '-')} is already {whose}" in result.output
    assert not (tmp_path / "connectors").exists()


def test_a_scaffold_it_cannot_finish_leaves_nothing(tmp_path: Path) -> None:
    # The package was written, its test was not: running the command again after the fix
    # refused to overwrite the half.
    (tmp_path / "tests").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "hub", "connectors", "new", "permits", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Not a directory" in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tests"]


def test_a_scaffolded_test_cannot_clash_with_another_test_module() -> None:
    # tests/connectors/ was no package, so its test_<name>.py was the top-level module
    # test_<name>: `new replay_cli` gave a second one beside tests/replay/test_replay_cli.py,
    # and pytest stopped collecting the whole suite ("import file mismatch").
    folders = {p.parent for p in (ROOT / "tests").rglob("test_*.py")}
    assert [f for f in sorted(folders) if not (f / "__init__.py").is_file()] == []


def _scaffolded_dataset(tmp_path: Path) -> ModuleType:
    result = CliRunner().invoke(app, ["connectors", "new", "big_agency", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "connectors" / "big_agency" / "dataset.py"
    spec = importlib.util.spec_from_file_location("scaffolded_big_agency_dataset", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_scaffolded_search_does_not_make_every_record_for_one_page(tmp_path: Path) -> None:
    # `hub up --size 1000000` gives every mock that size: the scaffold's search made all
    # million records for each page, blocking its mock past the hub's timeout.
    module = _scaffolded_dataset(tmp_path)
    made = 0
    record_at = module.record_at

    def counted(seed: int, index: int) -> dict[str, object]:
        nonlocal made
        made += 1
        return record_at(seed, index)  # type: ignore[no-any-return]

    setattr(module, "record_at", counted)  # noqa: B010 (a module made at run time)
    data = module.Records(seed=1, size=1_000_000)
    items, next_cursor = data.search(name=None, limit=5, cursor=0)
    assert [r["id"] for r in items] == [f"R{i:06d}" for i in range(5)] and next_cursor == "5"
    assert made == 5
    made = 0
    # A name nobody has: a short (here empty) page with a cursor to go on, as population's.
    items, next_cursor = data.search(name="Nobody", limit=5, cursor=0)
    assert items == [] and next_cursor is not None and int(next_cursor) == made
    assert made < 100_000
    # The last page ends the list.
    items, next_cursor = data.search(name=None, limit=5, cursor=999_998)
    assert [r["id"] for r in items] == ["R999998", "R999999"] and next_cursor is None


def test_a_scaffolded_lookup_answers_only_its_own_id(tmp_path: Path) -> None:
    # R0000001 answered R000001's record, under another id than the one asked for.
    module = _scaffolded_dataset(tmp_path)
    data = module.Records(seed=1)
    assert data.get("R000001")["id"] == "R000001"
    for alias in ("R0000001", "R00000001"):
        with pytest.raises(ProviderError, match="R and 6 digits"):
            data.get(alias)


def test_a_member_code_no_agency_has_is_warned_about_at_once(tmp_path: Path) -> None:
    # Only `hub registry apply` said so, after the connector was written around it.
    args = ["connectors", "new", "old_code", "--dir", str(tmp_path), "--member-id", "VN/LOC/02"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "warning: VN/LOC/02: 02 was a province code before the merger" in said, said
    args = ["connectors", "new", "new_code", "--dir", str(tmp_path), "--member-id", "VN/LOC/01"]
    assert "warning" not in CliRunner().invoke(app, args).output
