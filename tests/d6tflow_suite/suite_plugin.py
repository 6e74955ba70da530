"""pytest plugin that ``run_suite.py`` loads (``-p suite_plugin``) into d6tflow's test run.

It changes no test. It

- deselects the tests named in the JSON file ``--suite-deselect`` (``{node id: reason}``) and
  stops the run with a usage error when one of them is not collected, so the list cannot go
  stale silently;
- writes every test's outcome to the JSON file ``--suite-report`` (a test whose setup, call
  or teardown failed counts as failed, once), with the collection errors;
- gives ``sklearn.datasets.load_boston`` back when scikit-learn no longer has it (it was
  removed in scikit-learn 1.2, and scikit-learn releases that still have it do not install
  beside numpy 2). d6tflow's tests call it only to get a frame of numbers to save and load;
  the stand-in is a fixed, seeded table of the same shape (506 rows, 13 named features and a
  target), not the original data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

BOSTON_NOTE = (
    "sklearn.datasets.load_boston (removed in scikit-learn 1.2) is a seeded stand-in "
    "of the same shape"
)


def _load_boston_stand_in(**_: Any) -> Any:
    import numpy as np
    from sklearn.utils import Bunch

    rng = np.random.default_rng(506)
    data = rng.normal(size=(506, 13)).round(6)
    target = (data @ np.linspace(-1.0, 1.0, 13) + 22.5).round(3)
    return Bunch(
        data=data,
        target=target,
        feature_names=np.array([f"feature{i}" for i in range(13)]),
        DESCR="a seeded stand-in for the Boston housing data (d6tflow suite)",
        filename="",
    )


def _ensure_load_boston() -> bool:
    """Install the stand-in when scikit-learn lacks ``load_boston``; True if it did."""
    try:
        import sklearn.datasets
    except ImportError:
        return False
    try:
        sklearn.datasets.load_boston  # noqa: B018  (a module __getattr__ raises ImportError)
    except (AttributeError, ImportError):
        sklearn.datasets.load_boston = _load_boston_stand_in  # type: ignore[attr-defined]
        return True
    return False


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("d6tflow-suite")
    group.addoption("--suite-deselect", metavar="JSON", help="{node id: reason} to deselect")
    group.addoption("--suite-report", metavar="JSON", help="where to write the outcomes")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Suite(config), "d6tflow-suite")


class _Suite:
    """The run's state: what was deselected, each test's outcome, collection errors."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[str, str] = {}
        self.collect_errors: list[str] = []
        self.deselected: list[str] = []
        self.notes = [BOSTON_NOTE] if _ensure_load_boston() else []

    def pytest_report_header(self) -> list[str]:
        return [f"d6tflow suite: {note}" for note in self.notes]

    @pytest.hookimpl(tryfirst=True)  # before -k / -m, so the check sees every test
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        path = self.config.getoption("--suite-deselect")
        if not path:
            return
        wanted: dict[str, str] = json.loads(Path(path).read_text())
        missing = sorted(set(wanted) - {item.nodeid for item in items})
        if missing:
            raise pytest.UsageError(
                "the deselect list names tests that were not collected (renamed or removed?): "
                + ", ".join(missing)
            )
        deselected = [item for item in items if item.nodeid in wanted]
        items[:] = [item for item in items if item.nodeid not in wanted]
        self.deselected = [item.nodeid for item in deselected]
        self.config.hook.pytest_deselected(items=deselected)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(report.nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        previous = self.outcomes.get(report.nodeid)
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.skipped and previous is None:
            self.outcomes[report.nodeid] = "skipped"
        elif report.when == "call" and report.passed and previous is None:
            self.outcomes[report.nodeid] = "passed"

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        path = self.config.getoption("--suite-report")
        if not path:
            return
        report = {
            "outcomes": self.outcomes,
            "collect_errors": self.collect_errors,
            "deselected": self.deselected,
            "notes": self.notes,
            "exitstatus": int(exitstatus),
        }
        Path(path).write_text(json.dumps(report, indent=2, sort_keys=True))
