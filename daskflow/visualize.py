"""Pictures of a task graph, each task coloured by its status (complete, pending, failed).

With the ``graphviz`` package and its ``dot`` program installed, any format dot writes
(``.svg``, ``.png``, ``.pdf``, ...) comes from graphviz. daskflow draws ``.svg`` (a plain
SVG) and ``.html`` (a self-contained page holding that SVG) itself, so those two work without
graphviz; any other format then raises :class:`~daskflow.errors.FormatError` with the install
hint, rather than writing something else. In a notebook, ``Workflow.visualize()`` returns a
:class:`Picture` that displays inline.

The layout is layered: a task's column is the length of the longest path from a task with no
dependencies, so every arrow points right; tasks within a column are ordered by the mean
position of their dependencies, which keeps most arrows short.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path

from .errors import FormatError
from .graph import TaskGraph, levels

__all__ = ["Picture", "svg", "visualize"]

COLORS = {  # (fill, stroke)
    "complete": ("#e8f5e9", "#2e7d32"),
    "pending": ("#e3f2fd", "#1565c0"),
    "failed": ("#ffebee", "#c62828"),
}
BOX_H, GAP_X, GAP_Y, PAD, CHAR_W = 46, 70, 18, 20, 7.2
HTML = (".html", ".htm")
INSTALL_HINT = (
    'install both: pip install "daskflow[graphviz]" and your system\'s graphviz package '
    "(apt-get install graphviz, brew install graphviz, conda install graphviz)"
)


def _state(key: str, complete: Mapping[str, bool], failed: Collection[str]) -> str:
    if key in failed:
        return "failed"
    return "complete" if complete.get(key) else "pending"


def _labels(graph: TaskGraph, key: str) -> tuple[str, str]:
    task = graph.tasks[key]
    params = task.to_str_params(only_significant=True)
    detail = ", ".join(f"{k}={v}" for k, v in params.items())
    return type(task).__name__, (detail[:40] + "…" if len(detail) > 41 else detail)


def _layout(graph: TaskGraph) -> dict[str, tuple[float, float, float]]:
    """``{key: (x, y, width)}``."""
    level = levels(graph)
    columns: dict[int, list[str]] = {}
    for k, lv in level.items():
        columns.setdefault(lv, []).append(k)
    row: dict[str, float] = {}
    for lv in sorted(columns):
        keys = columns[lv]
        keys.sort(key=lambda k: sum(row[d] for d in graph.deps[k]) / max(1, len(graph.deps[k])))
        for i, k in enumerate(keys):
            row[k] = i
    widths = {k: CHAR_W * max(len(s) for s in _labels(graph, k)) + 2 * 12 for k in graph.tasks}
    col_w = {lv: max(widths[k] for k in keys) for lv, keys in columns.items()}
    x0: float = PAD
    xs: dict[int, float] = {}
    for lv in sorted(columns):
        xs[lv] = x0
        x0 += col_w[lv] + GAP_X
    return {k: (xs[level[k]], PAD + row[k] * (BOX_H + GAP_Y), widths[k]) for k in graph.tasks}


def svg(graph: TaskGraph, complete: Mapping[str, bool], failed: Collection[str] = ()) -> str:
    """The graph as an SVG document (daskflow's own drawing)."""
    pos = _layout(graph)
    width = max((x + w for x, _, w in pos.values()), default=0) + PAD
    height = max((y for _, y, _ in pos.values()), default=0) + BOX_H + PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker>'
        "</defs>",
    ]
    for key, ups in graph.deps.items():
        x2, y2, _ = pos[key]
        for up in ups:
            x1, y1, w1 = pos[up]
            a, b = (x1 + w1, y1 + BOX_H / 2), (x2, y2 + BOX_H / 2)
            mid = (a[0] + b[0]) / 2
            out.append(
                f'<path d="M{a[0]:.1f},{a[1]:.1f} C{mid:.1f},{a[1]:.1f} {mid:.1f},{b[1]:.1f} '
                f'{b[0]:.1f},{b[1]:.1f}" fill="none" stroke="#999" marker-end="url(#arrow)"/>'
            )
    for key, (x, y, w) in pos.items():
        state = _state(key, complete, failed)
        fill, stroke = COLORS[state]
        name, detail = (html.escape(s) for s in _labels(graph, key))
        out.append(
            f'<g class="task {state}"><title>{html.escape(repr(graph.tasks[key]))} '
            f"({state.upper()})</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BOX_H}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x + 12:.1f}" y="{y + 19:.1f}" font-weight="bold">{name}</text>'
            f'<text x="{x + 12:.1f}" y="{y + 36:.1f}" fill="#555">{detail}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def html_page(graph: TaskGraph, complete: Mapping[str, bool], failed: Collection[str] = ()) -> str:
    """A self-contained HTML page with the graph and a legend."""
    counts = {s: 0 for s in COLORS}
    for k in graph.tasks:
        counts[_state(k, complete, failed)] += 1
    legend = " ".join(
        f'<span style="border:1.5px solid {COLORS[s][1]};background:{COLORS[s][0]};'
        f'padding:2px 8px;border-radius:4px">{s} {n}</span>'
        for s, n in counts.items()
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>daskflow graph</title></head>"
        "<body style='font-family:sans-serif'>"
        f"<p>{len(graph.tasks)} tasks: {legend}</p>\n{svg(graph, complete, failed)}\n"
        "</body></html>\n"
    )


def _graphviz_missing() -> str | None:
    """What graphviz lacks here to draw (the Python package, its ``dot`` program), or None."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return "the graphviz Python package is not installed"
    if shutil.which("dot") is None:
        return "graphviz's dot program is not on PATH"
    return None


def _graphviz(
    graph: TaskGraph, complete: Mapping[str, bool], failed: Collection[str], path: Path
) -> Path:
    """Render with graphviz (installed: see :func:`_graphviz_missing`)."""
    import graphviz

    fmt = path.suffix.lower().lstrip(".")
    if fmt not in graphviz.FORMATS:
        raise FormatError(
            f"cannot draw the graph into {path}: graphviz does not write {fmt!r}; use .svg, "
            ".png, .pdf or another format dot writes, or .html"
        )
    dot = graphviz.Digraph(graph_attr={"rankdir": "LR"}, node_attr={"shape": "box"})
    for key in graph.tasks:
        fill, stroke = COLORS[_state(key, complete, failed)]
        name, detail = _labels(graph, key)
        dot.node(key, f"{name}\n{detail}", style="filled,rounded", fillcolor=fill, color=stroke)
    for key, ups in graph.deps.items():
        for up in ups:
            dot.edge(up, key)
    out = dot.render(path.with_suffix(""), format=fmt, cleanup=True)
    return Path(out)


def visualize(
    graph: TaskGraph,
    complete: Mapping[str, bool],
    filename: str | Path,
    failed: Collection[str] = (),
) -> Path:
    """Draw the graph into ``filename`` (format by extension); returns the file written.

    ``.html`` is always daskflow's page. Any other format comes from graphviz when it is
    installed; without it ``.svg`` is daskflow's own drawing, and any other extension
    raises :class:`~daskflow.errors.FormatError` naming the file, the format and what to
    install.
    """
    path = Path(filename)
    suffix = path.suffix.lower()
    if suffix in HTML:
        path.write_text(html_page(graph, complete, failed), encoding="utf-8")
        return path
    if not suffix:
        raise FormatError(
            f"cannot draw the graph into {path}: the file has no extension to say the format; "
            "use .svg or .html (or, with graphviz, .png, .pdf, ...)"
        )
    missing = _graphviz_missing()
    if missing is None:
        return _graphviz(graph, complete, failed, path)
    if suffix == ".svg":
        path.write_text(svg(graph, complete, failed), encoding="utf-8")
        return path
    raise FormatError(
        f"cannot draw the graph into {path}: the {suffix.lstrip('.')!r} format needs graphviz "
        f"and {missing}; {INSTALL_HINT}; or write .svg or .html, which daskflow draws itself"
    )


class Picture:
    """A drawn graph that notebooks display inline (and that ``str()`` gives as SVG)."""

    def __init__(
        self, graph: TaskGraph, complete: Mapping[str, bool], failed: Collection[str] = ()
    ) -> None:
        self.graph, self.complete, self.failed = graph, complete, failed

    def _repr_svg_(self) -> str:
        return svg(self.graph, self.complete, self.failed)

    def _repr_html_(self) -> str:
        return self._repr_svg_()

    def __str__(self) -> str:
        return self._repr_svg_()

    def save(self, filename: str | Path) -> Path:
        """Write it to ``filename`` (see :func:`visualize`)."""
        return visualize(self.graph, self.complete, filename, self.failed)
