"""d6tflow's ``utils`` module: the tree as text, upstream traversal, a parquet writer and the
parameter grids of ``WorkflowMulti``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..graph import build, preview_text
from ..tasks import Task
from ..workflow import _flow_params, taskflow_upstream

__all__ = [
    "generate_exps_for_multi_param",
    "params_generator_multiple",
    "params_generator_single",
    "print_tree",
    "to_parquet",
    "traverse",
]


def print_tree(
    task: Task,
    indent: str = "",
    last: bool = True,
    show_params: bool = True,
    clip_params: bool = False,
) -> str:
    """The dependency tree of ``task`` with each task's status, as text (``preview`` prints
    it)."""
    graph = build([task])
    return preview_text(
        graph,
        graph.status(),
        indent=indent,
        last=last,
        show_params=show_params,
        clip_params=clip_params,
    )


def traverse(t: Task, path: list[Task] | None = None) -> list[Task]:
    """``t`` and every task upstream of it, ``t`` first (after those in ``path``)."""
    seen = list(path or [])
    return seen + [u for u in taskflow_upstream(t) if u not in seen]


def to_parquet(df: Any, path: Any, **kwargs: Any) -> None:
    """Write ``df`` to parquet as d6tflow did (gzip, pyarrow), making the parent folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, **{"compression": "gzip", "engine": "pyarrow", **kwargs})


def generate_exps_for_multi_param(
    params: dict[str, list[Any]], *_: Any, **__: Any
) -> dict[str, dict[str, Any]]:
    """The grid of a ``{param: [values]}`` dict: ``{"a_1_b_x": {"a": 1, "b": "x"}, ...}``, keys
    in sorted order, as ``WorkflowMulti`` names its flows.

    >>> generate_exps_for_multi_param({"b": ["x"], "a": [1, 2]})
    {'a_1_b_x': {'a': 1, 'b': 'x'}, 'a_2_b_x': {'a': 2, 'b': 'x'}}
    """
    return {str(k): v for k, v in _flow_params(params).items()}


params_generator_multiple = generate_exps_for_multi_param


def params_generator_single(
    values: dict[str, list[Any]], params_base: dict[str, Any] | None = None
) -> dict[int, dict[str, Any]]:
    """One flow per value of the first parameter of ``values``, on top of ``params_base``.

    >>> params_generator_single({"a": [1, 2]}, {"b": 0})
    {0: {'a': 1, 'b': 0}, 1: {'a': 2, 'b': 0}}
    """
    key, options = next(iter(values.items()))
    return {i: {key: v, **(params_base or {})} for i, v in enumerate(options)}
