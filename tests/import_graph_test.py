"""ltjax's imports form no cycle: between modules or between packages.

The graph is read from the source (`ast`), with the imports inside
functions counted like the top-level ones, so a cycle hidden by an import
inside a function is found too. A package's own `__init__` importing its
modules, and a module importing a sibling by the package's path, are the
usual package pattern and not edges to the package's `__init__`.
(Registries that name a class by its "module:Class" path, `TASKS` and the
training components, are resolved when a run starts; they are not imports.)
"""

import ast
import collections
import pathlib

from absl.testing import absltest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ltjax"


def _module_name(path: pathlib.Path) -> str:
  parts = list(path.relative_to(ROOT).with_suffix("").parts)
  if parts[-1] == "__init__":
    parts.pop()
  return ".".join(parts)


def _is_module(name: str) -> bool:
  path = ROOT.joinpath(*name.split("."))
  return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
  """({module: ltjax modules it imports}, the same for imports in
  functions only)."""
  graph, inner = collections.defaultdict(set), collections.defaultdict(set)
  for path in sorted(PACKAGE.rglob("*.py")):
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(n) for n in tree.body}
    nested = set()
    for node in ast.walk(tree):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        nested |= {id(n) for n in ast.walk(node)} - {id(node)}
    for node in ast.walk(tree):
      targets = []
      if isinstance(node, ast.Import):
        targets = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
          parts = package.split(".")[:len(package.split(".")) - node.level + 1]
          base = ".".join(parts + ([node.module] if node.module else []))
        for alias in node.names:
          full = f"{base}.{alias.name}"
          targets.append(full if _is_module(full) else base)
      for target in targets:
        if target.split(".")[0] != "ltjax" or target == name:
          continue
        graph[name].add(target)
        if id(node) in nested:
          inner[name].add(target)
    del top
  return graph, inner


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
  """The strongly connected components with more than one node (Tarjan)."""
  index, low, stack, on, out = {}, {}, [], set(), []
  counter = [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(graph.get(v, ())):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        out.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return out


def package_of(module: str) -> str:
  """`ltjax.<first part>` (a subpackage, or a top-level module)."""
  return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
  """Edges between ltjax's subpackages (the root `ltjax/__init__`, the
  public face that re-exports them, is left out)."""
  out = collections.defaultdict(set)
  for a, targets in graph.items():
    for b in targets:
      if a == "ltjax" or b == "ltjax":
        continue
      if package_of(a) != package_of(b):
        out[package_of(a)].add(package_of(b))
  return out


class ImportGraphTest(absltest.TestCase):

  def test_graph_is_read(self):
    graph, _ = import_graph()
    self.assertIn("ltjax.train._step", graph["ltjax.train._engine"])
    self.assertIn("ltjax.data", graph["ltjax.train._config"])

  def test_no_module_cycle(self):
    graph, _ = import_graph()
    self.assertEqual(cycles(graph), [])

  def test_no_package_cycle(self):
    graph, _ = import_graph()
    self.assertEqual(cycles(package_graph(graph)), [])

  def test_no_ltjax_import_inside_a_function(self):
    """An import inside a function only ever hid a cycle here: none left."""
    _, inner = import_graph()
    self.assertEqual(dict(inner), {})

  def test_a_cycle_is_found(self):
    self.assertEqual(cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}),
                     [["a", "b", "c"]])
    self.assertEqual(
        cycles(package_graph({"ltjax.x._a": {"ltjax.y._b"},
                              "ltjax.y._b": {"ltjax.x"}})),
        [["ltjax.x", "ltjax.y"]])


if __name__ == "__main__":
  absltest.main()
