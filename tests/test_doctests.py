"""The examples in daskflow's docstrings run, as part of the suite (``tox -e docs`` runs the
same through pytest's ``--doctest-modules``)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import daskflow

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(daskflow.__path__, prefix="daskflow.")
    if "__" not in m.name
)


def test_every_module_is_found():
    assert {"daskflow.owned", "daskflow.leases", "daskflow.tasks.ids"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_each_module_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
