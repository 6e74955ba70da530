"""Importing daskflow is cheap and quiet: no print, no pandas, no luigi, no distributed."""

import subprocess
import sys


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )


def test_import_prints_nothing():
    out = _fresh("import daskflow")
    assert out.stdout == ""
    assert out.stderr == ""


def test_import_does_not_load_heavy_or_foreign_modules():
    # dask is loaded when a run needs it (the sync path and the status pass do not)
    out = _fresh(
        "import sys, daskflow\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'luigi', 'dask', 'distributed', 's3fs',"
        " 'fsspec', 'cloudpickle', 'd6tflow')"
        " if m in sys.modules))"
    )
    assert out.stdout.strip() == "[]"


LAYERS = [
    "errors",
    "settings",
    "context",
    "modules",
    "date_interval",
    "parameters",
    "formats",
    "dataframe",
    "targets",
    "leases",
    "tasks",
    "fingerprint",
    "manifests",
    "owned",
    "graph",
    "shipping",
    "explain",
    "runtime",
    "compile",
    "batching",
    "pool",
    "clusters",
    "schedulers",
    "progress",
    "visualize",
    "execute",
    "workflow",
    "cli",
    "compat",
    "__main__",
    "__init__",
]

# (layer, a layer below it) that a *function* of the first may import, and why: the one way a
# lower layer reaches a higher one, kept to this list
LAZY: dict[tuple[str, str], str] = {}  # none: tasks reach the layers above through tasks.above


def _layer_files(module: str):
    """The files of a layer: ``module.py``, or every file of the package ``module/``,
    each with how deep below the package root it is."""
    from pathlib import Path

    import daskflow

    root = Path(daskflow.__file__).parent
    if (root / module).is_dir():
        return [(p, 1) for p in sorted((root / module).glob("*.py"))]
    return [(root / f"{module}.py", 0)]


def _absolute(node) -> set[str]:
    """The daskflow layers an absolute import names (``from daskflow.x import y``, ``from
    daskflow import x``, ``import daskflow.x``); empty for any other node."""
    import ast

    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        parts = node.module.split(".")
        if parts[0] != "daskflow":
            return set()
        return {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
    if isinstance(node, ast.Import):
        return {
            a.name.split(".")[1]
            for a in node.names
            if a.name.startswith("daskflow.") and len(a.name.split(".")) > 1
        }
    return set()


def _imports(module: str) -> tuple[set[str], set[str], set[str]]:
    """(daskflow layers imported at module level, daskflow layers imported only inside
    functions, foreign packages imported at module level) of a layer; a package's imports
    of its own submodules do not count."""
    import ast

    top, lazy, foreign = set(), set(), set()

    def visit(node: ast.AST, in_function: bool, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            layers = _absolute(child)
            if layers:  # ``from daskflow.x import y``, ``import daskflow.x``, anywhere
                (lazy if in_function else top).update(layers)
            elif isinstance(child, ast.ImportFrom) and child.level:
                if child.level > depth:  # not the package's own submodule
                    names = [child.module] if child.module else [a.name for a in child.names]
                    (lazy if in_function else top).update(n.split(".")[0] for n in names)
            elif not in_function and isinstance(child, ast.ImportFrom) and child.module:
                foreign.add(child.module.split(".")[0])
            elif not in_function and isinstance(child, ast.Import):
                foreign.update(a.name.split(".")[0] for a in child.names)
            visit(child, inner, depth)

    for path, depth in _layer_files(module):
        visit(ast.parse(path.read_text()), False, depth)
    for found in (top, lazy):
        found.discard(module)
    return top, lazy - top, foreign


def test_layers_import_only_modules_above_them():
    from pathlib import Path

    import daskflow

    root = Path(daskflow.__file__).parent
    on_disk = {p.stem for p in root.glob("*.py")}
    on_disk |= {p.parent.name for p in root.glob("*/__init__.py")}
    assert on_disk <= set(LAYERS), f"add new modules to LAYERS: {on_disk - set(LAYERS)}"
    for i, module in enumerate(LAYERS):
        if module not in on_disk:
            continue
        top, lazy, foreign = _imports(module)
        above = set(LAYERS[:i])
        assert top <= above, f"{module} imports {top - above}, which are not above it"
        allowed = above | {low for (high, low) in LAZY if high == module}
        assert lazy <= allowed, f"{module} imports {lazy - allowed} in a function; see LAZY"
        # importing daskflow loads no dask: a layer imports it inside the functions that use it
        assert not {"dask", "distributed"} & foreign, f"{module} imports dask at module level"


def test_lazy_exceptions_are_still_needed():
    for high, low in LAZY:
        _, lazy, _ = _imports(high)
        assert low in lazy, f"{high} no longer imports {low}: remove it from LAZY"


def test_public_names():
    import daskflow

    for name in daskflow.__all__:
        assert hasattr(daskflow, name), name
    for name in (
        "TaskData",
        "TaskCache",
        "TaskCachePandas",
        "TaskPqPandas",
        "TaskCSVPandas",
        "TaskCSVGZPandas",
        "TaskJson",
        "TaskPickle",
        "TaskAggregator",
    ):
        assert hasattr(daskflow.tasks, name), name


def test_absolute_imports_inside_functions_count_as_layer_imports():
    """``from daskflow.workflow import Workflow`` inside a function of a low layer names the
    layer it reaches as surely as ``from .workflow import Workflow`` does."""
    import ast

    tree = ast.parse(
        "def f():\n"
        "    from daskflow.workflow import Workflow\n"
        "    from daskflow import graph, tasks\n"
        "    import daskflow.execute\n"
        "    import os\n"
    )
    found = set()
    for node in ast.walk(tree):
        found |= _absolute(node)
    assert found == {"workflow", "graph", "tasks", "execute"}
