"""The ``daskflow`` command: preview, run, reset and show a task's flow from the shell.

::

    daskflow preview pipeline.py:TaskTrain --param do_preprocess=false
    daskflow run mypkg.tasks:TaskTrain --scheduler tcp://10.0.0.5:8786 --dir s3://bucket/x
    daskflow reset pipeline.py:TaskGetData --downstream --yes
    daskflow show pipeline.py:TaskTrain --graph flow.svg

``MODULE`` is a dotted module name or a path to a ``.py`` file. ``--param name=value`` values
are parsed by the task's own parameter classes. Mistakes (an unknown parameter, a value that
does not parse, a missing module or class) are one line on stderr and exit status 2; a task
that fails exits with status 1 after its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import settings
from .errors import DaskflowError, UsageError
from .explain import garbage
from .graph import TaskGraph, build, downstream_of, plan
from .modules import load_file
from .targets import MemoryTarget, redact
from .targets.urls import filesystem
from .tasks import Task, TaskData, flatten
from .workflow import Workflow

__all__ = ["main"]


def load_task_class(spec: str) -> type[Task]:
    """The task class named by ``MODULE:Class`` (a dotted module or a ``.py`` path)."""
    module_name, sep, class_name = spec.rpartition(":")
    if not sep or not module_name or not class_name:
        raise UsageError(f"expected MODULE:TaskClass (e.g. pipeline.py:TaskTrain), got {spec!r}")
    module = _import(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        tasks = ", ".join(sorted(c.__name__ for c in _module_tasks(module)))
        raise UsageError(f"{module_name} has no {class_name!r}; its tasks: {tasks}")
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise UsageError(f"{spec} is {type(cls).__name__}, not a daskflow task class")
    return cls


def _module_tasks(module: Any) -> list[type[Task]]:
    """The task classes defined in ``module`` (not imported into it)."""
    return [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, Task) and v.__module__ == module.__name__
    ]


def _import(name: str) -> Any:
    if name.endswith(".py") or os.sep in name:
        path = Path(name).resolve()
        if not path.is_file():
            raise UsageError(f"no such file: {name}")
        try:
            return load_file(path, register=True)
        except ImportError as e:
            raise UsageError(f"cannot import {name}: {e}") from None
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        raise UsageError(f"cannot import module {name!r}: {e}") from None


def parse_params(cls: type[Task], pairs: Sequence[str]) -> dict[str, Any]:
    """``["name=value", ...]`` parsed by the parameters of ``cls`` or of its upstream tasks."""
    raw: dict[str, str] = {}
    for name, value in _pairs(pairs):
        if name in raw:
            raise UsageError(
                f"--param {name} is given twice ({raw[name]!r}, {value!r}); only gc takes "
                "several values of one parameter"
            )
        raw[name] = value
    params: dict[str, Any] = {}
    pending = dict(raw)
    for name, value in raw.items():  # the class's own parameters first
        if name in cls._params:
            params[name] = _parse(cls, name, value)
            del pending[name]
    if pending:  # then those of upstream classes, found by building the graph
        declared: dict[str, type[Task]] = {}
        for task in _graph(cls, params).tasks.values():
            for name in type(task)._params:
                declared.setdefault(name, type(task))
        for name, value in pending.items():
            owner = declared.get(name)
            if owner is None:
                known = sorted(set(cls._params) | set(declared))
                raise UsageError(
                    f"unknown parameter {name!r} for {cls.__name__}; its flow declares: "
                    f"{', '.join(known) or 'none'}"
                )
            params[name] = _parse(owner, name, value)
    return params


def _pairs(pairs: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param expects name=value, got {pair!r}")
        out.append((name.strip().replace("-", "_"), value))
    return out


def sweep(pairs: Sequence[str]) -> list[list[str]]:
    """The ``name=value`` lists of every combination, when a name is given several times.

    >>> sweep(["n=1", "n=2", "m=x"])
    [['n=1', 'm=x'], ['n=2', 'm=x']]
    """
    values: dict[str, list[str]] = {}
    for name, value in _pairs(pairs):
        values.setdefault(name, []).append(value)
    combos = itertools.product(*values.values())
    return [[f"{n}={v}" for n, v in zip(values, combo, strict=True)] for combo in combos]


def _parse(cls: type[Task], name: str, text: str) -> Any:
    try:
        return cls._params[name].parse_text(text)
    except DaskflowError as e:
        raise UsageError(f"{cls.__name__} parameter {name!r}: {e}") from None


def _graph(cls: type[Task], params: dict[str, Any]) -> TaskGraph:
    return build([Workflow(cls, params).get_task()])


# -- commands --------------------------------------------------------------------------------


def parse_storage_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["client_kwargs.endpoint_url=http://...", "anon=true"]`` as nested fsspec options;
    values that read as JSON (numbers, true/false, objects) are taken as JSON.

    >>> parse_storage_options(["client_kwargs.endpoint_url=http://s3:9000", "anon=false"])
    {'client_kwargs': {'endpoint_url': 'http://s3:9000'}, 'anon': False}
    """
    import json

    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--storage-option expects key=value, got {pair!r}")
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        *parents, leaf = name.split(".")
        node = options
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UsageError(f"--storage-option {name!r} conflicts with an earlier value")
        node[leaf] = value
    return options


def _flow(args: argparse.Namespace) -> Workflow:
    cls = load_task_class(args.task)  # first: --dir wins over a set_dir() the module calls
    if getattr(args, "dir", None):
        settings.set_dir(args.dir)
    if getattr(args, "invalidation", None):
        settings.invalidation = args.invalidation
    if getattr(args, "storage_option", None):
        settings.storage_options = {
            **settings.storage_options,
            **parse_storage_options(args.storage_option),
        }
    return Workflow(cls, parse_params(cls, args.param))


def cmd_preview(args: argparse.Namespace) -> int:
    _flow(args).preview(explain=args.explain)
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    accepted = _flow(args).accept()
    print("accepted:\n  " + "\n  ".join(map(repr, accepted)) if accepted else "nothing to accept")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    roots = []
    for spec in [args.task, *args.more]:  # (a parameter given n times: n flows)
        for params in sweep(args.param):
            args_one = argparse.Namespace(**{**vars(args), "task": spec, "param": params})
            roots.append(_flow(args_one).get_task())
    root = os.fspath(settings.dirpath)
    found = garbage(plan(build(roots)), root, settings.storage_options)
    total = sum(size for _, size in found)
    for path, size in found:
        print(f"{size:>12,}  {path}")
    print(
        f"{len(found)} files, {total:,} bytes that no task of these flows owns under {redact(root)}"
    )
    if not found or not args.yes:
        if found:
            print("(nothing deleted: --yes deletes them)")
        return 0
    fs, _ = filesystem(root, settings.storage_options)
    for path, _ in found:
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(path)
    print(f"deleted {len(found)} files")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    flow = _flow(args)
    workers = args.workers
    result = flow.run(
        forced_all=args.forced_all,
        forced_all_upstream=args.forced_all_upstream,
        workers=workers,
        scheduler=args.scheduler,
        abort=False,
        execution_summary=not args.quiet,
    )
    if result is None:  # only a declined confirmation returns nothing
        return 1
    if result.errors:  # their tracebacks were logged above
        by_error: dict[int, list[str]] = {}  # tasks that failed for one reason share its error
        for key, error in result.errors.items():
            by_error.setdefault(id(error), []).append(key)
        for keys in by_error.values():
            error = result.errors[keys[0]]
            who = repr(result.tasks[keys[0]]) if len(keys) == 1 else f"{len(keys)} tasks"
            sys.stderr.write(f"error: {who} failed: {type(error).__name__}: {error}\n")
        return 1
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    flow = _flow(args)
    task = flow.get_task()
    if args.downstream:
        graph, keys = _downstream_in_module(task, flow.params)
    else:
        graph = build([task])
        keys = set(graph.tasks) if args.upstream else {task.task_id}
    stored = graph.status(check_dependencies=False)  # one bulk check: whose outputs exist
    victims = [graph.tasks[k] for k in graph.tasks if k in keys and stored[k]]
    if not victims:
        print("nothing to reset")
        return 0
    print("resetting:\n  " + "\n  ".join(map(repr, victims)))
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to delete outputs without --yes (stdin is not a terminal)")
        if input("delete these outputs? (y/n) ").strip().lower() != "y":
            print("cancelled")
            return 1
    for t in victims:
        t.reset()
    return 0


def _downstream_in_module(task: Task, params: dict[str, Any]) -> tuple[TaskGraph, set[str]]:
    """The graph of the module's task classes (with these params), and the keys of ``task``'s
    family and every task in it that needs them."""
    module = sys.modules[type(task).__module__]
    roots = []
    for cls in _module_tasks(module):
        try:
            roots.append(Workflow(cls, params).get_task())
        except DaskflowError:
            continue  # a class that needs parameters not given here
    graph = build(roots)
    hits = [k for k, t in graph.tasks.items() if t.task_family == task.task_family]
    return graph, downstream_of(graph, hits)


def cmd_show(args: argparse.Namespace) -> int:
    flow = _flow(args)
    graph = _graph(flow.default_task, flow.params)  # type: ignore[arg-type]
    status = graph.status()
    rows = []
    for key in reversed(list(graph.tasks)):
        task = graph.tasks[key]
        where = ", ".join(
            f"{redact(t.url)} (in memory)" if isinstance(t, MemoryTarget) else redact(t.url)
            for t in (flatten(task.output()) if isinstance(task, TaskData) else [])
        )
        rows.append(("COMPLETE" if status[key] else "PENDING", repr(task), where or "-"))
    width = max(len(r[1]) for r in rows)
    for state, name, where in rows:
        print(f"{state:9s} {name:{width}s}  {where}")
    if args.graph:
        from .visualize import visualize

        written = visualize(graph, status, args.graph)
        print(f"graph written to {written}")
    return 0


def _version() -> str:
    """``daskflow.__version__``, read from the package already imported: ``__init__`` is the
    last layer (``tests/test_imports.py``), so this module does not import from it."""
    return str(sys.modules[__package__ or "daskflow"].__version__)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="daskflow", description="Preview, run and reset daskflow pipelines."
    )
    parser.add_argument(
        "--version", action="version", version=f"daskflow {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("task", metavar="MODULE:TaskClass", help="e.g. pipeline.py:TaskTrain")
        p.add_argument(
            "-p",
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a task parameter (repeatable)",
        )
        p.add_argument("--dir", metavar="URL", help="root of the outputs (path or fsspec URL)")
        p.add_argument(
            "--invalidation",
            choices=settings.INVALIDATION_MODES,
            help="when outputs that exist are redone: exists (never, the default), code (the "
            "code that makes them changed), code+data (or an input changed); also "
            "DASKFLOW_INVALIDATION",
        )
        p.add_argument(
            "--storage-option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="an fsspec storage option, dotted for nesting "
            "(client_kwargs.endpoint_url=http://...); repeatable",
        )
        return p

    preview = command("preview", "print the task tree with each task's status")
    preview.add_argument(
        "--explain", action="store_true", help="and why each pending task would run"
    )
    command("accept", "record the outputs that exist as current for the current code")
    gc = command(
        "gc",
        "list (and with --yes delete) files under the root no task owns; a parameter given "
        "several times (-p n=1 -p n=2) keeps the outputs of each value",
    )
    gc.add_argument("more", nargs="*", metavar="MODULE:TaskClass", help="more flows")
    gc_mode = gc.add_mutually_exclusive_group()
    gc_mode.add_argument("--dry-run", action="store_true", help="only list them (the default)")
    gc_mode.add_argument("--yes", action="store_true", help="delete them")
    run = command("run", "run the task and whatever upstream of it is missing")
    run.add_argument(
        "--scheduler",
        metavar="NAME|ADDRESS",
        help="sync, threads, processes, or a Dask scheduler address (tcp://host:8786)",
    )
    run.add_argument("--workers", type=int, metavar="N", help="N local worker processes")
    forced = run.add_mutually_exclusive_group()
    forced.add_argument("--forced-all", action="store_true", help="redo the task itself")
    forced.add_argument(
        "--forced-all-upstream", action="store_true", help="redo the task and everything upstream"
    )
    run.add_argument("--quiet", action="store_true", help="no progress and no summary")
    reset = command("reset", "delete the task's outputs")
    direction = reset.add_mutually_exclusive_group()
    direction.add_argument("--upstream", action="store_true", help="and everything upstream")
    direction.add_argument(
        "--downstream",
        action="store_true",
        help="and every task of its module that depends on it",
    )
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    show = command("show", "list each task with its status and output location")
    show.add_argument(
        "--graph",
        metavar="FILE",
        help="also draw the graph (.svg, .html; .png, .pdf, ... need graphviz)",
    )
    return parser


COMMANDS = {
    "preview": cmd_preview,
    "run": cmd_run,
    "reset": cmd_reset,
    "show": cmd_show,
    "accept": cmd_accept,
    "gc": cmd_gc,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except DaskflowError as e:
        sys.stderr.write(f"daskflow {args.command}: error: {e}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
