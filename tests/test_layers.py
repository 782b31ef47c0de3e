"""The package is layered: each module imports only from its own layer or the layers below,
and nothing imports in a cycle, counting imports inside functions (type-only imports under
``if TYPE_CHECKING:`` do not run and do not count)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PKG = Path(__file__).resolve().parent.parent / "shapegraph"

# bottom to top; a module belongs to the layer of its longest matching prefix
LAYERS = [
    ("core", ["shapegraph.core"]),
    ("op records", ["shapegraph.opset"]),
    ("inference", ["shapegraph.infer"]),
    ("rendering", ["shapegraph.render"]),
    ("executor", ["shapegraph.executor"]),
    ("front end", ["shapegraph.frontend"]),
    ("interchange", ["shapegraph.onnx"]),
    ("api", ["shapegraph.api"]),
    # the public names: the package and the modules users import (nn, ops, init, nd)
    ("public", ["shapegraph"]),
    ("tools", ["shapegraph.tools", "shapegraph.__main__"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}


def layer_of(module: str) -> int:
    matches = [(len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
               if module == p or module.startswith(p + ".")]
    assert matches, f"{module} is in no layer"
    return max(matches)[1]


def _type_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, names) of every import that runs, at any depth."""
    out: list[tuple[str, list[str]]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return out


def import_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for name, path in MODULES.items():
        g.add_node(name)
        for module, names in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not module.startswith("shapegraph"):
                continue
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
            if len(targets) < len(names) or not names:
                targets.append(module)
            for t in targets:
                if t != name and t in MODULES:
                    g.add_edge(name, t)
    return g


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_no_module_imports_from_a_layer_above() -> None:
    g = import_graph()
    upward = [f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
              for a, b in g.edges if layer_of(b) > layer_of(a)]
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "\n".join(" -> ".join(c) for c in sorted(cycles, key=len)[:20])


def test_the_test_sees_imports() -> None:
    """The graph is not empty by mistake: known edges are in it."""
    g = import_graph()
    assert g.has_edge("shapegraph.infer.propagate", "shapegraph.opset.registry")
    assert g.has_edge("shapegraph.frontend.block", "shapegraph.frontend.root")


def test_checking_does_not_import_numba() -> None:
    """numba is fenced in executor/ and loaded only to run: `shapegraph check` (and a
    plain `import shapegraph`) start without it (about 0.3 s saved)."""
    import subprocess
    import sys

    code = ("import sys, shapegraph, shapegraph.tools.check_cli; "
            "from shapegraph import nn; import shapegraph as sg; "
            "net = nn.Sequential(); net.add(nn.Dense(3)); "
            "sg.check(net, sg.Input('x', ('b', 4))); print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
