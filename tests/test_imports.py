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
    "date_interval",
    "parameters",
    "formats",
    "targets",
    "tasks",
    "graph",
    "visualize",
    "runtime",
    "compile",
    "dataframe",
    "progress",
    "schedulers",
    "execute",
    "workflow",
    "functional",
    "export",
    "cli",
    "__main__",
    "__init__",
]
FIRST_WITH_DASK = "runtime"


def _layer_files(module: str):
    """The files of a layer: ``module.py``, or every file of the package ``module/``,
    each with how deep below the package root it is."""
    from pathlib import Path

    import daskflow

    root = Path(daskflow.__file__).parent
    if (root / module).is_dir():
        return [(p, 1) for p in sorted((root / module).glob("*.py"))]
    return [(root / f"{module}.py", 0)]


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(daskflow layers, top-level foreign packages) a layer imports, at any depth; a
    package's imports of its own submodules do not count."""
    import ast

    own, foreign = set(), set()
    for path, depth in _layer_files(module):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                if node.level <= depth:  # inside the package itself
                    continue
                if node.module:
                    own.add(node.module.split(".")[0])
                else:
                    own.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                foreign.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                foreign.update(a.name.split(".")[0] for a in node.names)
    own.discard(module)
    return own, foreign


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
        own, foreign = _imports(module)
        below = own - set(LAYERS[:i])
        assert not below, f"{module} imports {below}, which are not above it"
        if i < LAYERS.index(FIRST_WITH_DASK):
            assert not {"dask", "distributed"} & foreign, f"{module} imports dask"


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
