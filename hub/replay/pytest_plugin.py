"""pytest plugin: scenario files as tests (``pytest scenarios/``).

Loaded in every pytest run of the repo (entry point ``hub_scenarios``), so it stays
inert unless asked: it only collects ``*.yaml``/``*.yml`` files that lie under a path
given on the command line (not ``testpaths``) and have a top-level ``steps:``, and it
imports the replay machinery and starts a hub only when such a file is collected.

Each file is one test item, run once against ``--hub URL``, or else against ``hub up``
started as a subprocess on free ports with a throw-away SQLite database, stopped at the
end of the session.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

import pytest

from hub.core.ports import free_block

# A key only a scenario's steps have. `pytest .` in a project whose environment holds the
# hub found its azure-pipelines.yml (a top-level `steps:` of `- script:`s) and failed it as
# a malformed scenario; a file named on the command line is still read whatever it holds.
_STEP_KEY = re.compile(rb"""\b(?:client|service|fault|sleep|stub|verify)["']?\s*:""")
_ROOTS = pytest.StashKey[list[Path]]()
_HUB = pytest.StashKey["HubProcess"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hub-scenarios", "hub scenario files")
    group.addoption(
        "--hub",
        default=None,
        metavar="URL",
        help="Replay scenario files against this hub; default: start `hub up` on free ports.",
    )
    group.addoption(
        "--hub-credentials",
        default=None,
        metavar="FILE",
        help="Credentials JSON for scenario files; default: GET {hub}/demo/credentials.",
    )
    group.addoption(
        "--hub-providers",
        default=None,
        metavar="FILE",
        help="Provider base URLs for fault steps; default: GET {hub}/demo/providers.",
    )


def _roots(config: pytest.Config) -> list[Path]:
    """The paths named on the command line; empty when pytest fell back to testpaths."""
    roots = config.stash.get(_ROOTS, None)
    if roots is None:
        roots = []
        if config.args_source == pytest.Config.ArgsSource.ARGS:
            base = config.invocation_params.dir
            roots = [(base / arg.split("::")[0]).resolve() for arg in config.args]
        config.stash[_ROOTS] = roots
    return roots


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from hub.replay.files import is_yaml, looks_like_scenario

    if not is_yaml(file_path):
        return None
    resolved = file_path.resolve()
    roots = _roots(parent.config)
    # As `hub replay` does: a file named on the command line is a scenario, whatever it
    # holds (a typo such as `stpes:` is then an error, not a silent skip); one found in a
    # folder is only if it has a top-level `steps:`.
    if resolved not in roots:
        if not any(root in resolved.parents for root in roots):
            return None
        if not looks_like_scenario(file_path) or _STEP_KEY.search(file_path.read_bytes()) is None:
            return None
    return ScenarioFile.from_parent(parent, path=file_path)


class ScenarioFile(pytest.File):
    """A scenario YAML file; a malformed one is a collection error with the loader's words."""

    def collect(self) -> list[pytest.Item]:
        from hub.replay.loader import ScenarioLoadError, load_file

        try:
            plan = load_file(self.path)
        except ScenarioLoadError as exc:
            raise self.CollectError("\n".join(exc.messages)) from None
        return [ScenarioItem.from_parent(self, name=plan.name, plan=plan)]


class ScenarioFailed(Exception):
    """A scenario's expectations did not all hold; the text is the replay report."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, plan: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def runtest(self) -> None:
        import asyncio

        from hub.replay.reports import render_tables
        from hub.replay.runner import RunOptions
        from hub.replay.service import replay
        from hub.replay.sources import SourceError

        config = self.config
        hub_url = config.getoption("--hub") or _hub_process(config).url
        credentials = config.getoption("--hub-credentials")
        providers = config.getoption("--hub-providers")
        try:
            results, _ = asyncio.run(
                replay(
                    [self.plan],
                    hub_url=hub_url,
                    options=RunOptions(iterations=1),
                    credentials_file=Path(credentials) if credentials else None,
                    providers_file=Path(providers) if providers else None,
                )
            )
        except SourceError as exc:
            raise ScenarioFailed(str(exc)) from None
        if not all(r.ok for r in results):
            from io import StringIO

            from rich.console import Console

            out = StringIO()
            render_tables(Console(file=out, width=120, no_color=True), results)
            raise ScenarioFailed(out.getvalue())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"


class HubProcess:
    """``hub up`` as a subprocess with its own temporary database."""

    def __init__(self) -> None:
        self.workdir = tempfile.TemporaryDirectory(prefix="hub-scenarios-")
        self.port = free_block(8)  # ``hub up`` uses P for the hub, P+1... for mocks
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(self.workdir.name) / "hub.log"
        self.log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.error: str | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        work = Path(self.workdir.name)
        env = {
            **os.environ,
            "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'hub.db'}",
            "HUB_SIGNING_KEY_FILE": str(work / "signing-key.pem"),
            "HUB_ENV": "development",
        }
        script = Path(sys.executable).with_name("hub")
        fallback = [sys.executable, "-c", "from hub.cli.main import main; main()"]
        command = [str(script)] if script.exists() else fallback
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*command, "up", "--port", str(self.port)],
            cwd=work,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so stopping it stops its mocks too
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"`hub up` exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"`hub up` was not ready within {timeout_s:.0f}s:\n{self.tail()}")

    def tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if process is not None and process.poll() is None:
            process.wait()
        if self.log is not None:
            self.log.close()
            self.log = None
        self.workdir.cleanup()


def _hub_process(config: pytest.Config) -> HubProcess:
    hub = config.stash.get(_HUB, None)
    if hub is None:
        hub = HubProcess()
        config.stash[_HUB] = hub
        try:
            hub.start()
        except RuntimeError as exc:
            hub.error = str(exc)
    if hub.error:
        raise ScenarioFailed(f"no hub to replay against (give --hub URL): {hub.error}")
    return hub


def pytest_sessionfinish(session: pytest.Session) -> None:
    hub = session.config.stash.get(_HUB, None)
    if hub is not None:
        hub.stop()
