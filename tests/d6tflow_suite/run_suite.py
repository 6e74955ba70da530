"""Run d6tflow 0.2.8's own test suite, unchanged, against daskflow.

    python tests/d6tflow_suite/run_suite.py [--sdist FILE] [--keep] [--timeout S] [-- PYTEST_ARGS]

The yardstick of daskflow's drop-in promise (``import daskflow as d6tflow`` keeps d6tflow code
working) is d6tflow's own tests. This script

1. checks that what those tests import is installed (luigi, fuckit, scikit-learn, tables:
   the ``d6tflow-suite`` extra) and says which ``pip install`` is missing;
2. fetches the d6tflow 0.2.8 sdist with pip (or takes ``--sdist FILE``), refuses it unless
   its sha256 is the one below, and extracts only ``tests/test_main.py``,
   ``tests/test_workflow.py`` and ``tests/test_workflowMulti.py`` into a fresh temporary
   folder (as ``tests/...``, the layout d6tflow's tests expect when run from its checkout);
3. runs them there with pytest, unchanged: an empty ini file (``-c``) so daskflow's own
   pytest settings (warnings as errors) do not apply, ``-p no:cacheprovider``, a per-test
   timeout, and ``PYTHONPATH`` starting with ``alias/`` so ``import d6tflow`` and
   ``d6tflow.X`` are ``daskflow`` and ``daskflow.X``. The plugin ``suite_plugin.py`` deselects
   the tests listed in ``DESELECTED`` (each with its reason, printed before the run) and
   records each outcome;
4. prints ``d6tflow 0.2.8 suite: N passed, M failed, K deselected``.

No d6tflow code or test text is stored in this repository: the tests come from the sdist
each time (pip's cache makes a rerun fast).

Exit status: 0 every test that is not deselected passed; 1 some failed; 2 the suite could
not be set up (a requirement missing, a bad sdist, a stale deselect list, pip failing for a
reason other than the network); 3 the package registry did not answer (CI treats this as
skipped).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALIAS = HERE / "alias"

SDIST = "d6tflow==0.2.8"
SDIST_NAME = "d6tflow-0.2.8.tar.gz"
SDIST_SHA256 = "f661afbeb93a370589537e84ef4cd81902569af0aca10f1f9f70a394a888d188"
TEST_FILES = ("tests/test_main.py", "tests/test_workflow.py", "tests/test_workflowMulti.py")

EXIT_FAILED = 1
EXIT_SETUP = 2
EXIT_UNREACHABLE = 3

PIP_TIMEOUT = 30  # seconds pip waits for one answer from the registry (--timeout)
PIP_RETRIES = 2
PIP_DEADLINE = 600  # seconds for the whole download, metadata build included
TEST_TIMEOUT = 120  # seconds per test (pytest-timeout)
RUN_DEADLINE = 1800  # seconds for the whole pytest run

# module imported by d6tflow's tests -> what to install for it
REQUIREMENTS = {
    "daskflow": "-e .",
    "pytest": "pytest>=8",
    "pytest_timeout": "pytest-timeout>=2.3",
    "luigi": "luigi>=3.0",
    "fuckit": "fuckit>=4.8",
    "sklearn": "scikit-learn>=1.3",
    "tables": "tables>=3.8",
}

_PREVIEW = (
    "counts a parameter once per preview tree: d6tflow 0.2.8 prints parameters on the root "
    "only, through a slip in its own print_tree; daskflow keeps the documented form "
    "(parameters on every node)"
)
_IMPORT = "needs tests/for_import.py, which d6tflow's sdist does not ship"
_EXPORT = (
    "compares FlowExport's generated module text with d6tflow's, which imports luigi; "
    "daskflow's imports daskflow"
)
_META_PATH = "calls the private Task._get_meta_path"

# node id (relative to the work folder) -> why d6tflow 0.2.8's expectation does not apply.
# Nothing else belongs here: every other failure is a daskflow bug.
DESELECTED: dict[str, str] = {
    "tests/test_workflow.py::TestWorkflow::test_single_flow_preview": _PREVIEW,
    "tests/test_workflow.py::TestWorkflow::test_single_workflow_no_params_passes": _PREVIEW,
    "tests/test_workflow.py::TestWorkflow::test_single_flow_parameters_passes_properly": (_PREVIEW),
    "tests/test_workflowMulti.py::TestWorkflowMulti::test_preview_single_flow": _PREVIEW,
    "tests/test_workflowMulti.py::TestWorkflowMulti::test_preview_all_flow": _PREVIEW,
    "tests/test_workflow.py::TestFlowImport::test_import_dirpath": _IMPORT,
    "tests/test_workflow.py::TestFlowImport::test_import_tasks": _IMPORT,
    "tests/test_workflow.py::TestFlowImport::test_import_to_flow": _IMPORT,
    "tests/test_workflow.py::TestFlowExports::test_task": _EXPORT,
    "tests/test_workflow.py::TestFlowExports::test_task2": _EXPORT,
    "tests/test_workflow.py::TestFlowExports::test_flow": _EXPORT,
    "tests/test_workflow.py::TestFlowExports::test_task_pipename": _EXPORT,
    "tests/test_workflow.py::TestFlowExports::test_task_path": _EXPORT,
    "tests/test_workflow.py::TestFlowExports::test_task_task_group": _EXPORT,
    "tests/test_workflow.py::TestFlowExports::test_task_flow_path": _EXPORT,
    "tests/test_workflow.py::TestMeta::test_metaSave_persists_after_run": _META_PATH,
}

# what pip prints when the registry does not answer (as opposed to answering "no")
_UNREACHABLE = re.compile(
    r"NewConnectionError|ConnectTimeoutError|ReadTimeoutError|Read timed out|"
    r"Max retries exceeded|connection broken by|Connection refused|Connection reset|"
    r"Network is unreachable|No route to host|Temporary failure in name resolution|"
    r"Name or service not known|nodename nor servname|ProxyError|Could not fetch URL|"
    r"\(from versions: none\)",
    re.IGNORECASE,
)


class SuiteError(Exception):
    """The suite could not be set up; ``status`` is the exit status to leave with."""

    def __init__(self, message: str, status: int = EXIT_SETUP) -> None:
        super().__init__(message)
        self.status = status


def say(message: str = "") -> None:
    print(message, flush=True)


def check_requirements() -> None:
    """Import what d6tflow's tests import; name the ``pip install`` for whatever fails."""
    failed: dict[str, str] = {}
    for module in REQUIREMENTS:
        try:
            importlib.import_module(module)
        except Exception as error:  # a broken install fails in many ways: report them all
            failed[module] = f"{type(error).__name__}: {error}"
    if not failed:
        return
    lines = [f"  {module} ({REQUIREMENTS[module]}): {why}" for module, why in failed.items()]
    hint = f'  {sys.executable} -m pip install -e ".[d6tflow-suite]"   (from the checkout)'
    only = [f'"{REQUIREMENTS[module]}"' for module in failed if module != "daskflow"]
    if only and "daskflow" not in failed:
        hint += f"\n  or only what is missing: {sys.executable} -m pip install {' '.join(only)}"
    raise SuiteError(
        "d6tflow suite: these requirements are not importable:\n"
        + "\n".join(lines)
        + "\ninstall them with:\n"
        + hint
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def download_sdist(into: Path) -> Path:
    """``pip download`` the sdist into ``into``; exit status 3 when the registry is silent."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        SDIST,
        "-d",
        str(into),
        "--timeout",
        str(PIP_TIMEOUT),
        "--retries",
        str(PIP_RETRIES),
        "--disable-pip-version-check",
        "--no-input",
    ]
    say(f"d6tflow suite: fetching the {SDIST} sdist with pip")
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_DEADLINE, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise SuiteError(
            f"d6tflow suite: the package registry did not answer: pip download gave no result "
            f"in {PIP_DEADLINE} s",
            EXIT_UNREACHABLE,
        ) from error
    output = done.stdout + done.stderr
    if done.returncode != 0:
        if _UNREACHABLE.search(output):
            raise SuiteError(
                "d6tflow suite: the package registry did not answer; pip said:\n" + _tail(output),
                EXIT_UNREACHABLE,
            )
        raise SuiteError(f"d6tflow suite: pip download failed:\n{_tail(output)}")
    found = into / SDIST_NAME
    if not found.is_file():
        raise SuiteError(f"d6tflow suite: pip did not write {SDIST_NAME}:\n{_tail(output)}")
    return found


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def extract_tests(sdist: Path, work: Path) -> None:
    """Check the sdist's sha256, then copy only the three test files out of it."""
    got = sha256(sdist)
    if got != SDIST_SHA256:
        raise SuiteError(
            f"d6tflow suite: refusing {sdist}: its sha256 is {got}, expected {SDIST_SHA256}"
        )
    prefix = SDIST_NAME.removesuffix(".tar.gz") + "/"
    with tarfile.open(sdist, "r:gz") as archive:
        for name in TEST_FILES:
            try:
                member = archive.getmember(prefix + name)
                stream = archive.extractfile(member)
            except KeyError:
                stream = None
            if stream is None:
                raise SuiteError(f"d6tflow suite: {sdist} has no regular file {prefix + name}")
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(stream.read())


def run_pytest(work: Path, timeout: int, extra: list[str]) -> dict[str, object]:
    """Run the three files in ``work``; return the plugin's report."""
    ini = work / "empty.ini"
    ini.write_text("[pytest]\n")  # only so that -c has a file: no option is set
    deselect = work / "deselect.json"
    deselect.write_text(json.dumps(DESELECTED))
    report = work / "report.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(ini),
        "--rootdir",
        str(work),
        "-p",
        "no:cacheprovider",
        "-p",
        "suite_plugin",
        "--timeout",
        str(timeout),
        "--suite-deselect",
        str(deselect),
        "--suite-report",
        str(report),
        "-rfE",
        *extra,
        *TEST_FILES,
    ]
    env = dict(os.environ)
    path = [str(ALIAS), str(HERE)]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    say(f"d6tflow suite: running pytest in {work} with PYTHONPATH={env['PYTHONPATH']}")
    try:
        done = subprocess.run(command, cwd=work, env=env, timeout=RUN_DEADLINE, check=False)
    except subprocess.TimeoutExpired as error:
        raise SuiteError(
            f"d6tflow suite: the run did not finish in {RUN_DEADLINE} s", EXIT_FAILED
        ) from error
    if not report.is_file():
        raise SuiteError(
            f"d6tflow suite: pytest exited with status {done.returncode} without a report "
            "(see its output above)"
        )
    result: dict[str, object] = json.loads(report.read_text())
    if done.returncode in (3, 4):  # pytest: internal error, usage error (a stale list)
        raise SuiteError(f"d6tflow suite: pytest stopped with status {done.returncode}")
    return result


def summarize(report: dict[str, object]) -> int:
    outcomes = report["outcomes"]
    assert isinstance(outcomes, dict)
    collect_errors = report["collect_errors"]
    assert isinstance(collect_errors, list)
    deselected = report["deselected"]
    assert isinstance(deselected, list)
    passed = sorted(node for node, outcome in outcomes.items() if outcome == "passed")
    failed = sorted(node for node, outcome in outcomes.items() if outcome == "failed")
    skipped = sorted(node for node, outcome in outcomes.items() if outcome == "skipped")
    failed += [f"{node} (collection error)" for node in collect_errors]
    say()
    for note in report.get("notes") or []:  # type: ignore[attr-defined]
        say(f"d6tflow suite: note: {note}")
    say(f"d6tflow suite: deselected ({len(deselected)}):")
    for node in deselected:
        say(f"  {node}")
    if failed:
        say(f"d6tflow suite: failed ({len(failed)}):")
        for node in failed:
            say(f"  {node}")
    line = f"d6tflow 0.2.8 suite: {len(passed)} passed, {len(failed)} failed"
    if skipped:
        line += f", {len(skipped)} skipped"
    say(f"{line}, {len(deselected)} deselected")
    return EXIT_FAILED if failed or not passed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", type=Path, help="use this d6tflow-0.2.8.tar.gz (no download)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--timeout", type=int, default=TEST_TIMEOUT, help="seconds per test")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="d6tflow-suite-"))
    try:
        check_requirements()
        sdist = args.sdist if args.sdist else download_sdist(work / "sdist")
        extract_tests(sdist, work)
        shutil.rmtree(work / "sdist", ignore_errors=True)
        say(f"d6tflow suite: deselected before the run ({len(DESELECTED)}), each with why:")
        for node, reason in DESELECTED.items():
            say(f"  {node}\n      {reason}")
        return summarize(run_pytest(work, args.timeout, args.pytest_args))
    except SuiteError as error:
        say(str(error))
        return error.status
    finally:
        if args.keep:
            say(f"d6tflow suite: work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
