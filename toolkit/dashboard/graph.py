"""The state graph of a workflow, drawn with Graphviz from its ASL, coloured by each state's status.

Why Graphviz: ``dot`` lays out a directed graph top-down in ranks, as the Step Functions console
draws a workflow, and writes SVG. An SVG string shows in an ipywidgets ``HTML`` widget with no
front-end extension, so it renders the same in JupyterLab, Voilà and a headless browser, and each
state is an element a test can find: a ``<g class="node dsa-state dsa-status-...">`` whose
``<title>`` is the state's name. (ipycytoscape draws on a canvas, whose nodes a test cannot
query, and needs a lab extension; ipyelk does not support JupyterLab 4.) The ``dot`` program
comes from Debian's ``graphviz`` package, installed by ``scripts/install-system-packages.sh``.

Nested states (a Map's ItemProcessor, a Parallel's Branches) are drawn in a box under their
parent; their statuses live in the child executions' histories, so they are not coloured.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import graphviz

__all__ = ["COLOURS", "workflow_graph", "workflow_svg", "legend_html"]

# status -> (fill, border): the console's palette, in spirit
COLOURS = {
    "succeeded": ("#e6f4ea", "#2e7d32"),
    "failed": ("#fdecea", "#c62828"),
    "running": ("#e3f2fd", "#1565c0"),
    "caught": ("#fff3e0", "#ef6c00"),
    "not reached": ("#f5f5f5", "#9e9e9e"),
}
_START, _END = "__start__", "__end__"
_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_FIXED_SIZE = re.compile(r'<svg width="[^"]*" height="[^"]*"')


def workflow_graph(definition: Mapping[str, Any], statuses: Mapping[str, str] | None = None,
                   notes: Mapping[str, str] | None = None) -> graphviz.Digraph:
    """The workflow as a Graphviz digraph: one node per state, named by the state.

    ``statuses`` maps top-level state names to a status of :data:`COLOURS` (absent: not
    reached); ``notes`` adds a line under a state's name (e.g. a Map Run's item counts).
    """
    statuses, notes = statuses or {}, notes or {}
    graph = graphviz.Digraph("workflow", graph_attr={"rankdir": "TB", "nodesep": "0.35", "ranksep": "0.4",
                                                     "fontname": "Helvetica", "bgcolor": "transparent"},
                             node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                        "fontsize": "11", "margin": "0.15,0.06"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#616161",
                                        "arrowsize": "0.7"})
    graph.node(_START, "Start", shape="oval", fillcolor="#eeeeee", color="#757575", **{"class": "dsa-start"})
    graph.node(_END, "End", shape="oval", fillcolor="#eeeeee", color="#757575", **{"class": "dsa-end"})
    graph.edge(_START, definition["StartAt"])
    _add_states(graph, definition["States"], "", statuses, notes, _END)
    return graph


def workflow_svg(definition: Mapping[str, Any], statuses: Mapping[str, str] | None = None,
                 notes: Mapping[str, str] | None = None) -> str:
    """The workflow drawn as an inline SVG element, ready for an HTML widget.

    No XML prologue, and the fixed size in points gives way to the width of its container (the
    viewBox keeps the proportions), so a large workflow is scaled to fit rather than cut off.
    """
    svg = workflow_graph(definition, statuses, notes).pipe(format="svg", encoding="utf-8")
    svg = _XML_PROLOGUE.sub("", svg, count=1)
    return _FIXED_SIZE.sub('<svg width="100%"', svg, count=1)


def legend_html() -> str:
    """A line of coloured swatches naming each status."""
    items = "".join(
        f'<span style="display:inline-block;margin-right:12px"><span style="display:inline-block;width:12px;'
        f'height:12px;background:{fill};border:2px solid {border};border-radius:3px;vertical-align:middle">'
        f'</span> {status}</span>' for status, (fill, border) in COLOURS.items())
    return f'<div class="dsa-graph-legend" style="font-size:12px">{items}</div>'


def _add_states(graph: graphviz.Digraph, states: Mapping[str, Any], prefix: str, statuses: Mapping[str, str],
                notes: Mapping[str, str], end: str | None) -> None:
    """Add ``states`` (node names prefixed for nested ones) and their transitions to ``graph``."""
    for name, state in states.items():
        node = prefix + name
        status = statuses.get(name, "not reached") if not prefix else "not reached"
        fill, border = COLOURS[status] if not prefix else ("#ffffff", "#9e9e9e")
        label = name if node not in notes else f"{name}\n{notes[node]}"
        css = f"dsa-state dsa-status-{status.replace(' ', '-')} dsa-type-{state.get('Type', '').lower()}"
        graph.node(node, label, fillcolor=fill, color=border, penwidth="2" if not prefix else "1",
                   tooltip=f"{name}: {status}", **{"class": css if not prefix else "dsa-inner-state"})
        for target, label, style in _transitions(state):
            graph.edge(node, prefix + target, label=label, style=style,
                       color="#ef6c00" if style == "dashed" else "#616161")
        if state.get("End") or state.get("Type") in ("Succeed", "Fail"):
            if end is not None:
                graph.edge(node, end)
        for index, (title, nested) in enumerate(_nested(state)):
            with graph.subgraph(name=f"cluster_{node}_{index}") as box:
                box.attr(label=title, style="rounded,dashed", color="#9e9e9e", fontsize="9")
                inner = f"{node}/" if len(_nested(state)) == 1 else f"{node}/{index}/"
                _add_states(box, nested["States"], inner, statuses, notes, None)
            graph.edge(node, inner + nested["StartAt"], style="dotted", arrowhead="none")


def _transitions(state: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(target, label, style) of each way out of a state: Next, Choice rules and Default, Catchers."""
    out = []
    for number, rule in enumerate(state.get("Choices", []), start=1):
        out.append((rule["Next"], f"rule {number}", "solid"))
    if "Default" in state:
        out.append((state["Default"], "default", "solid"))
    if "Next" in state:
        out.append((state["Next"], "", "solid"))
    for catcher in state.get("Catch", []):
        out.append((catcher["Next"], "catch", "dashed"))
    return list(dict.fromkeys(out))


def _nested(state: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The workflows a Map or Parallel state runs, with a title for each box."""
    if state.get("Type") == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            mode = processor.get("ProcessorConfig", {}).get("Mode", "INLINE").lower()
            return [(f"item processor ({mode})", processor)]
    if state.get("Type") == "Parallel":
        return [(f"branch {n}", branch) for n, branch in enumerate(state.get("Branches", []), start=1)]
    return []
