"""Pictures of the graph: daskflow's own SVG and HTML, graphviz when it is installed."""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

import daskflow as d6tflow
from daskflow.errors import FormatError
from daskflow.graph import build
from daskflow.visualize import Picture, svg, visualize


class A(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save(1)


class B(d6tflow.tasks.TaskPickle):
    n = d6tflow.IntParameter(default=2)

    def requires(self):
        return A()

    def run(self):
        raise ValueError("B breaks")


@d6tflow.requires(B)
class C(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save(self.inputLoad())


def _states(text: str) -> dict[str, str]:
    root = ET.fromstring(text)
    ns = {"s": "http://www.w3.org/2000/svg"}
    return {
        g.find("s:text", ns).text: g.get("class").split()[1]
        for g in root.iter("{http://www.w3.org/2000/svg}g")
    }


def test_svg_colours_each_task_by_status_including_failed():
    flow = d6tflow.Workflow(C)
    flow.run(abort=False, execution_summary=False, scheduler="sync")
    picture = flow.visualize()
    assert isinstance(picture, Picture)
    text = picture._repr_svg_()
    assert _states(text) == {"A": "complete", "B": "failed", "C": "pending"}
    assert "n=2" in text
    assert picture._repr_html_() == text
    assert text.count("marker-end") == 2  # A -> B -> C


def test_workflow_multi_draws_every_flow_as_one_graph_with_shared_tasks_once(tmp_path):
    flow = d6tflow.WorkflowMulti(C, {"two": {"n": 2}, "three": {"n": 3}})
    flow.run(abort=False, execution_summary=False, scheduler="sync")
    text = flow.visualize()._repr_svg_()
    root = ET.fromstring(text)
    labels = [
        g.find("{http://www.w3.org/2000/svg}text").text
        for g in root.iter("{http://www.w3.org/2000/svg}g")
    ]
    assert sorted(labels) == ["A", "B", "B", "C", "C"]  # A is shared: drawn once
    assert set(_states(text).values()) == {"complete", "failed", "pending"}
    assert "n=3" in text and "n=2" in text
    one = flow.visualize(flow="three")._repr_svg_()
    assert "n=3" in one and "n=2" not in one
    assert flow.visualize(tmp_path / "multi.html") == tmp_path / "multi.html"
    assert (tmp_path / "multi.html").read_text().count("<g") >= 5


def test_svg_layout_is_left_to_right_and_escapes_text():
    class Q(d6tflow.tasks.TaskPickle):
        s = d6tflow.Parameter(default="<b>&amp;")

    graph = build([Q()])
    text = svg(graph, graph.status())
    ET.fromstring(text)  # well-formed despite the markup in the parameter
    assert "&lt;b&gt;&amp;amp;" in text


@pytest.fixture(params=["no dot", "no graphviz package"])
def without_graphviz(request, monkeypatch, tmp_path):
    """graphviz hidden, whether or not this machine has it: its ``dot`` program off PATH, or
    its Python package not importable."""
    if request.param == "no dot":
        empty = tmp_path / "empty-bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        assert shutil.which("dot") is None
        return "graphviz's dot program is not on PATH"
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    return "the graphviz Python package is not installed"


def test_svg_and_html_are_drawn_without_graphviz(tmp_path, without_graphviz):
    graph = build([C()])
    complete = graph.status()
    written = visualize(graph, complete, tmp_path / "g.html")
    page = written.read_text()
    assert written.suffix == ".html" and page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "pending 3" in page
    drawn = visualize(graph, complete, tmp_path / "g.svg")
    assert drawn == tmp_path / "g.svg" and drawn.read_text().startswith("<svg")


@pytest.mark.parametrize("name", ["g.png", "g.pdf", "g.JPG"])
def test_a_format_only_graphviz_writes_is_an_error_without_it(tmp_path, without_graphviz, name):
    graph = build([C()])
    with pytest.raises(FormatError) as info:
        visualize(graph, graph.status(), tmp_path / name)
    message = str(info.value)
    assert str(tmp_path / name) in message
    assert f"the {name.split('.')[1].lower()!r} format needs graphviz" in message
    assert without_graphviz in message  # which half of graphviz is missing
    assert 'pip install "daskflow[graphviz]"' in message and "apt-get install graphviz" in message
    assert ".svg or .html" in message
    assert list(tmp_path.glob("g.*")) == []  # nothing written in its place
    with pytest.raises(FormatError):  # the same through the Workflow
        d6tflow.Workflow(C).visualize(tmp_path / name)


def test_no_extension_is_an_error(tmp_path):
    graph = build([C()])
    with pytest.raises(FormatError, match="no extension"):
        visualize(graph, graph.status(), tmp_path / "g")
    assert list(tmp_path.iterdir()) == []


def test_graphviz_draws_when_installed(tmp_path):
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot program is not installed")
    flow = d6tflow.Workflow(C)
    out = flow.visualize(tmp_path / "g.png")
    assert out.suffix == ".png" and out.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(FormatError, match="graphviz does not write 'nope'"):
        flow.visualize(tmp_path / "g.nope")


def test_a_large_layered_graph_draws_quickly_and_completely():
    class L(d6tflow.tasks.TaskPickle):
        layer = d6tflow.IntParameter()
        i = d6tflow.IntParameter()

        def requires(self):
            if self.layer == 0:
                return []
            return [L(layer=self.layer - 1, i=j) for j in range(4)]

    roots = [L(layer=7, i=j) for j in range(4)]
    graph = build(roots)
    text = svg(graph, graph.status())
    assert text.count('class="task pending"') == 32
    assert text.count("marker-end") == 7 * 16
