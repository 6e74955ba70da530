"""Change detection as a table: each case is a real project module edited between two
processes; the task's code fingerprint must change for every edit of what the code does, stay
the same for an edit of comments, docstrings or layout, and be the same in processes with
different ``PYTHONHASHSEED``s when nothing was edited.

All the cases run in five processes: the modules as first written under three hash seeds,
then edited, then the layout-only edits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAD = """
import dataclasses
import functools

import daskflow
from daskflow.tasks import TaskPickle
"""

# name: (files as first written, the same files edited). In each case, module {case}_main
# defines the task class T; {case} is replaced by the case's module prefix.
CHANGES: dict[str, tuple[dict[str, str], dict[str, str]]] = {}


def case(name: str, before: str, after: str, **others: tuple[str, str]) -> None:
    files_before = {"main": HEAD + textwrap.dedent(before)}
    files_after = {"main": HEAD + textwrap.dedent(after)}
    for module, (b, a) in others.items():
        files_before[module] = textwrap.dedent(b)
        files_after[module] = textwrap.dedent(a)
    CHANGES[name] = (files_before, files_after)


def simple(name: str, before: str, after: str, run: str) -> None:
    body = "class T(TaskPickle):\n    def run(self):\n        self.save(" + run + ")\n"
    case(name, before + "\n" + body, after + "\n" + body)


case(
    "method body",
    "class T(TaskPickle):\n    def run(self):\n        self.save(1)\n",
    "class T(TaskPickle):\n    def run(self):\n        self.save(2)\n",
)
simple("helper body", "def f(x):\n    return x + 1\n", "def f(x):\n    return x + 2\n", "f(1)")
simple(
    "helper of a helper",
    "def g(x):\n    return x * 2\ndef f(x):\n    return g(x)\n",
    "def g(x):\n    return x * 3\ndef f(x):\n    return g(x)\n",
    "f(1)",
)
simple("int constant", "N = 3\n", "N = 4\n", "N")
simple("float constant", "RATE = 0.5\n", "RATE = 0.25\n", "RATE")
simple("str constant", "NAME = 'a'\n", "NAME = 'b'\n", "NAME")
simple("bytes constant", "RAW = b'a'\n", "RAW = b'b'\n", "RAW")
simple("tuple constant", "T0 = (1, 2)\n", "T0 = (1, 3)\n", "T0")
simple("list constant", "L = [1, 2]\n", "L = [1, 2, 3]\n", "L")
simple("dict constant", "D = {'a': 1}\n", "D = {'a': 2}\n", "D")
simple("frozenset constant", "S = frozenset({'x', 'y'})\n", "S = frozenset({'x', 'z'})\n", "S")
simple("set constant", "S = {'x', 'y', 'w'}\n", "S = {'x', 'y'}\n", "sorted(S)")
simple(
    "constant over 100,000 characters",
    "BIG = 'a' * 1 + " + repr("b" * 100_001) + "\n",
    "BIG = 'a' * 1 + " + repr("b" * 100_000 + "c") + "\n",
    "len(BIG)",
)
simple("lambda constant", "F = lambda x: x + 1\n", "F = lambda x: x + 2\n", "F(1)")
simple(
    "dict holding functions",
    "def a(x):\n    return x\nHANDLERS = {'a': a}\n",
    "def a(x):\n    return -x\nHANDLERS = {'a': a}\n",
    "HANDLERS['a'](1)",
)
simple(
    "list of project objects",
    "class Item:\n    def __init__(self, v):\n        self.v = v\nITEMS = [Item(1), Item(2)]\n",
    "class Item:\n    def __init__(self, v):\n        self.v = v\nITEMS = [Item(1), Item(3)]\n",
    "[i.v for i in ITEMS]",
)
simple(
    "attribute of a project object read through it",
    "class Conf:\n    pass\nCONF = Conf()\nCONF.threshold = 0.5\n",
    "class Conf:\n    pass\nCONF = Conf()\nCONF.threshold = 0.7\n",
    "CONF.threshold",
)
simple(
    "functools.partial arguments",
    "def f(x, k):\n    return x * k\nP = functools.partial(f, k=2)\n",
    "def f(x, k):\n    return x * k\nP = functools.partial(f, k=3)\n",
    "P(1)",
)
simple(
    "functools.partial wrapped function",
    "def f(x, k):\n    return x * k\nP = functools.partial(f, k=2)\n",
    "def f(x, k):\n    return x + k\nP = functools.partial(f, k=2)\n",
    "P(1)",
)
simple(
    "dataclass field default",
    "@dataclasses.dataclass\nclass Cfg:\n    k: int = 1\nCFG = Cfg()\n",
    "@dataclasses.dataclass\nclass Cfg:\n    k: int = 2\nCFG = Cfg()\n",
    "CFG.k",
)
simple(
    "dataclass instance",
    "@dataclasses.dataclass\nclass Cfg:\n    k: int = 1\nCFG = Cfg(k=5)\n",
    "@dataclasses.dataclass\nclass Cfg:\n    k: int = 1\nCFG = Cfg(k=6)\n",
    "CFG.k",
)
DECO = (
    "def deco(fn):\n    @functools.wraps(fn)\n    def inner(*a):\n"
    "        return fn(*a)\n    return inner\n"
)
simple(
    "decorated helper",
    DECO + "@deco\ndef f(x):\n    return x + 1\n",
    DECO + "@deco\ndef f(x):\n    return x + 5\n",
    "f(1)",
)
simple(
    "method of a helper class",
    "class H:\n    def compute(self):\n        return 1\n",
    "class H:\n    def compute(self):\n        return 2\n",
    "H().compute()",
)
SAVES_THRESHOLD = "    def run(self):\n        self.save(self.threshold)\n"
case(
    "task class attribute",
    "class T(TaskPickle):\n    threshold = 0.5\n" + SAVES_THRESHOLD,
    "class T(TaskPickle):\n    threshold = 0.6\n" + SAVES_THRESHOLD,
)
case(
    "task class dict attribute",
    "class T(TaskPickle):\n    opts = {'a': 1}\n    def run(self):\n        self.save(self.opts)\n",
    "class T(TaskPickle):\n    opts = {'a': 2}\n    def run(self):\n        self.save(self.opts)\n",
)
base = "class Base(TaskPickle):\n    scale = {scale}\n    def helper(self):\n        return {ret}\n"
task = "class T(Base):\n    def run(self):\n        self.save(self.helper() * self.scale)\n"
case(
    "project base class attribute",
    base.format(scale=2, ret=1) + task,
    base.format(scale=3, ret=1) + task,
)
case(
    "project base class method",
    base.format(scale=2, ret=1) + task,
    base.format(scale=2, ret=7) + task,
)
case(
    "base class in another module",
    "from {case}_base import Base\n" + task,
    "from {case}_base import Base\n" + task,
    base=(HEAD + base.format(scale=2, ret=1), HEAD + base.format(scale=2, ret=4)),
)
case(
    "static and class methods",
    "class T(TaskPickle):\n    @staticmethod\n    def s():\n        return 1\n"
    "    def run(self):\n        self.save(self.s())\n",
    "class T(TaskPickle):\n    @staticmethod\n    def s():\n        return 9\n"
    "    def run(self):\n        self.save(self.s())\n",
)
case(
    "property",
    "class T(TaskPickle):\n    @property\n    def p(self):\n        return 1\n"
    "    def run(self):\n        self.save(self.p)\n",
    "class T(TaskPickle):\n    @property\n    def p(self):\n        return 8\n"
    "    def run(self):\n        self.save(self.p)\n",
)
case(
    "nested function",
    "class T(TaskPickle):\n    def run(self):\n        def inner():\n            return 1\n"
    "        self.save(inner())\n",
    "class T(TaskPickle):\n    def run(self):\n        def inner():\n            return 2\n"
    "        self.save(inner())\n",
)
run_imports = (
    "class T(TaskPickle):\n    def run(self):\n        from {case}_helpers import clean\n"
    "        self.save(clean(1))\n"
)
case(
    "from-import inside run()",
    run_imports,
    run_imports,
    helpers=("def clean(x):\n    return x\n", "def clean(x):\n    return -x\n"),
)
run_import_module = (
    "class T(TaskPickle):\n    def run(self):\n        import {case}_helpers\n"
    "        self.save({case}_helpers.clean(1))\n"
)
case(
    "import inside run()",
    run_import_module,
    run_import_module,
    helpers=("def clean(x):\n    return x\n", "def clean(x):\n    return x * 10\n"),
)
case(
    "helper in another module",
    "from {case}_helpers import clean\nclass T(TaskPickle):\n    def run(self):\n"
    "        self.save(clean(1))\n",
    "from {case}_helpers import clean\nclass T(TaskPickle):\n    def run(self):\n"
    "        self.save(clean(1))\n",
    helpers=("def clean(x):\n    return x\n", "def clean(x):\n    return x - 1\n"),
)

# edits of how the code reads, not what it does: the fingerprint stays
SAME: dict[str, tuple[str, str]] = {
    "a comment": (
        "def f(x):\n    return x + 1\n",
        "def f(x):\n    # add one\n    return x + 1  # (one)\n",
    ),
    "a docstring": (
        "def f(x):\n    return x + 1\n",
        'def f(x):\n    """Add one."""\n    return x + 1\n',
    ),
    "layout": ("def f(x):\n    return x + 1\n", "def f(x):\n\n    return (x +\n            1)\n"),
}
for name, (before, after) in SAME.items():
    body = "class T(TaskPickle):\n    def run(self):\n        self.save(f(1))\n"
    CHANGES[f"same: {name}"] = (
        {"main": HEAD + before + "\n" + body},
        {"main": HEAD + after + "\n" + body},
    )

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from daskflow.fingerprint import fingerprint
keys = {}
for prefix in json.loads(sys.argv[2]):
    module = __import__(prefix + "_main")
    keys[prefix] = fingerprint(module.T).key
print(json.dumps(keys))
"""


def _write(folder: Path, which: int) -> dict[str, str]:
    prefixes = {}
    for i, (name, versions) in enumerate(CHANGES.items()):
        prefix = f"c{i:02d}"
        prefixes[prefix] = name
        for module, text in versions[which].items():
            (folder / f"{prefix}_{module}.py").write_text(text.replace("{case}", prefix))
    return prefixes


def _keys(folder: Path, prefixes: dict[str, str], seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder), json.dumps(list(prefixes))],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return {prefixes[p]: k for p, k in json.loads(out.stdout.strip().splitlines()[-1]).items()}


@pytest.fixture(scope="module")
def fingerprints(tmp_path_factory) -> dict[str, dict[str, str]]:
    folder = tmp_path_factory.mktemp("project")
    prefixes = _write(folder, 0)
    found = {f"seed {s}": _keys(folder, prefixes, s) for s in ("0", "1", "12345")}
    _write(folder, 1)
    found["edited"] = _keys(folder, prefixes, "7")
    return found


def test_there_are_at_least_thirty_kinds_of_edit():
    assert len([n for n in CHANGES if not n.startswith("same:")]) >= 30


@pytest.mark.parametrize("name", list(CHANGES))
def test_an_edit_changes_the_fingerprint_exactly_when_it_changes_what_runs(fingerprints, name):
    before, after = fingerprints["seed 0"][name], fingerprints["edited"][name]
    if name.startswith("same:"):
        assert before == after, f"{name}: an edit of layout alone changed the fingerprint"
    else:
        assert before != after, f"{name}: the edit was not seen"


@pytest.mark.parametrize("name", list(CHANGES))
def test_without_an_edit_every_process_agrees(fingerprints, name):
    seen = {fingerprints[s][name] for s in ("seed 0", "seed 1", "seed 12345")}
    assert len(seen) == 1, f"{name}: the fingerprint differs between processes: {seen}"


ENVIRON = (
    HEAD
    + """
import os


class T(TaskPickle):
    def run(self):
        self.save(os.environ.get("WHO", "?"))  # the environment is not the code
"""
)


def test_an_environment_variable_the_code_reads_is_not_code(tmp_path):
    (tmp_path / "env_main.py").write_text(ENVIRON)
    keys = set()
    for who in ("ana", "bob"):
        os.environ["WHO"] = who
        try:
            keys.add(_keys(tmp_path, {"env": "env"}, "0")["env"])
        finally:
            del os.environ["WHO"]
    assert len(keys) == 1
