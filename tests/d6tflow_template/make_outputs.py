"""Record what the real d6tflow 0.2.8 writes for the project template.

This script is NOT part of the test suite and is NOT run by CI. Run it with the python of a
separate virtualenv that has the reference implementation (outside the repo)::

    python3.11 -m venv /tmp/d6t-venv
    /tmp/d6t-venv/bin/pip install "d6tflow==0.2.8" "luigi<3.8" pandas pyarrow
    /tmp/d6t-venv/bin/python tests/d6tflow_template/make_outputs.py \\
        [--template CHECKOUT --template-commit FILE=SHA ...]

It copies ``project/`` into a temporary folder, runs its ``run.py`` there with d6tflow, and
writes

- ``d6tflow_outputs.json``: the versions, the flows ``run.py`` runs, and for every file
  d6tflow wrote under ``data/``: its path relative to the project, its format, the task
  family, task id and parameters (luigi's serialized form) that own it, and what it holds
  (a frame's columns, dtypes and row count; a pickle's type);
- ``d6tflow_outputs/``: those files themselves, as d6tflow wrote them (about 20 KB).

With ``--template``, a checkout of d6t/d6tflow-template (it needs scikit-learn and
matplotlib in the venv too) runs the same way and the JSON also records its files' sha256
and its outputs, after checking that it writes the same paths as ``project/``.

Output is deterministic but for the parquet writer's version in the files' metadata.
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
PROJECT = HERE / "project"
OUT_JSON = HERE / "d6tflow_outputs.json"
OUT_FILES = HERE / "d6tflow_outputs"
TEMPLATE_FILES = ("run.py", "tasks.py", "cfg.py", "visualize.py")

# the flows run.py runs: the root task and its parameters
FLOWS = [
    {"task": "TaskTrain", "params": {}},
    {"task": "TaskTrain", "params": {"do_preprocess": False}},
]
FORMATS = {".parquet": "parquet", ".pkl": "pickle"}


def versions():
    from importlib.metadata import version

    found = {name: version(name) for name in ("d6tflow", "luigi", "pandas", "pyarrow", "numpy")}
    found["python"] = sys.version.split()[0]
    return found


def run_template(source, work):
    """Copy ``source`` to ``work`` and run its run.py there with this interpreter."""
    shutil.copytree(source, work, ignore=shutil.ignore_patterns("__pycache__", "data"))
    (work / "reports").mkdir(exist_ok=True)  # the template writes its plot there
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "run.py"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"run.py failed in {work}:\n{done.stdout}\n{done.stderr}")
    written = sorted(
        str(path.relative_to(work))
        for path in work.rglob("*")
        if path.is_file() and path.name not in TEMPLATE_FILES and "__pycache__" not in path.parts
    )
    return written


def describe_outputs(work):
    """Map every output of the flows' tasks to its task; describe its content."""
    old_cwd = os.getcwd()
    os.chdir(work)
    sys.path.insert(0, str(work))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import d6tflow
            import luigi.task

            tasks = __import__("tasks")
        d6tflow.set_dir("data")
        owners = {}
        for flow in FLOWS:
            pending = [getattr(tasks, flow["task"])(**flow["params"])]
            while pending:
                task = pending.pop()
                for target in luigi.task.flatten(task.output()):
                    owners[str(target.path)] = task
                pending.extend(luigi.task.flatten(task.requires()))
        described = []
        for path in sorted(owners):
            task = owners[path]
            entry = {
                "path": path,
                "format": FORMATS[pathlib.Path(path).suffix],
                "task_family": task.task_family,
                "task_id": task.task_id,
                "params": dict(task.to_str_params(only_significant=True)),
            }
            if entry["format"] == "parquet":
                import pandas as pd

                df = pd.read_parquet(path)
                entry["columns"] = [str(c) for c in df.columns]
                entry["dtypes"] = [str(t) for t in df.dtypes]
                entry["rows"] = len(df)
            else:
                with open(path, "rb") as stream:
                    obj = pickle.load(stream)
                entry["type"] = f"{type(obj).__module__}.{type(obj).__qualname__}"
            described.append(entry)
        return described
    finally:
        os.chdir(old_cwd)
        sys.path.remove(str(work))
        for name in ("tasks", "cfg", "visualize"):
            sys.modules.pop(name, None)


def record(source, work):
    written = run_template(source, work)
    outputs = describe_outputs(work)
    data = sorted(p for p in written if p.startswith("data" + os.sep))
    if data != [o["path"] for o in outputs]:
        sys.exit(f"the files under data/ are not the flows' outputs:\n{data}\n{outputs}")
    return outputs, [p for p in written if p not in data]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=pathlib.Path, help="a d6t/d6tflow-template checkout")
    parser.add_argument(
        "--template-commit",
        action="append",
        default=[],
        metavar="FILE=SHA",
        help="the commit each template file comes from (repeat per file)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="d6tflow-template-") as tmp:
        tmp = pathlib.Path(tmp)
        outputs, other_files = record(PROJECT, tmp / "project")
        result = {
            "versions": versions(),
            "project": "tests/d6tflow_template/project",
            "flows": FLOWS,
            "outputs": outputs,
            "other_files": other_files,
        }
        if args.template:
            template_outputs, template_other = record(args.template, tmp / "template")
            paths = [o["path"] for o in outputs]
            if [o["path"] for o in template_outputs] != paths:
                sys.exit(f"the template writes other paths than project/:\n{template_outputs}")
            result["upstream_template"] = {
                "repository": "d6t/d6tflow-template",
                "commits": dict(item.split("=", 1) for item in args.template_commit),
                "sha256": {name: sha256(args.template / name) for name in TEMPLATE_FILES},
                "outputs": template_outputs,
                "other_files": template_other,
            }
        shutil.rmtree(OUT_FILES, ignore_errors=True)
        for entry in outputs:
            target = OUT_FILES / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp / "project" / entry["path"], target)
    OUT_JSON.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT_JSON} and {len(outputs)} files under {OUT_FILES}")


if __name__ == "__main__":
    main()
