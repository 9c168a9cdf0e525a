"""The layout rules of the design guide, checked over the source with ``ast`` (nothing imported):

- click is imported only by the command line (``dfbench/cli/``) and plugin ``commands.py`` files;
  engines are library functions a notebook can call;
- the module-level import graph of ``dfbench`` (and of each plugin package) has no cycles;
- no file in ``dfbench/cli/`` is over 500 lines;
- plugin packages import the core only, never another plugin.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "dfbench"


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool, *, top_level_only: bool,
             modules: set[str] | None = None) -> set[str]:
    """Absolute names imported by ``module`` (``from . import x`` resolved against the package).

    With ``modules`` (every module of the tree), ``from pkg import name`` is an edge to ``pkg.name``
    when that is a module and to ``pkg`` otherwise; without it, both spellings are returned."""
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # module level also covers `if TYPE_CHECKING:`-free `if`/`try` blocks at the top
        nodes = [n for stmt in tree.body for n in ast.walk(stmt)
                 if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    package = module if is_package else module.rpartition(".")[0]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for a in node.names:  # `from pkg import submodule` imports the submodule, else pkg itself
                sub = f"{prefix}.{a.name}"
                out.update({sub, prefix} if modules is None else {sub if sub in modules else prefix})
    return out


def _is_type_checking_block(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)


def _graph(pkg: Path = PKG) -> dict[str, set[str]]:
    files = {_module_name(p, pkg.parent): p for p in pkg.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        tree.body = [s for s in tree.body if not _is_type_checking_block(s)]  # never executed at run time
        names = _imports(tree, mod, path.name == "__init__.py", top_level_only=True, modules=set(files))
        graph[mod] = {n for n in names if n in files and n != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative enough for us)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_only_the_command_line_imports_click():
    offenders = []
    sources = list(PKG.rglob("*.py")) + list((ROOT / "plugins").glob("*/dfbench_*/**/*.py"))
    for path in sources:
        rel = path.relative_to(ROOT)
        if rel.parts[:2] == ("dfbench", "cli") or path.name == "commands.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        names = _imports(tree, "x.y", False, top_level_only=False)  # every import, lazy ones included
        if any(n == "click" or n.startswith("click.") for n in names):
            offenders.append(str(rel))
    assert offenders == [], f"click imported outside dfbench/cli/ and plugin commands.py: {offenders}"


def test_dfbench_import_graph_has_no_cycles():
    cycles = _cycles(_graph())
    for plugin in sorted((ROOT / "plugins").glob("*/dfbench_*/__init__.py")):  # and every plugin package
        cycles += _cycles(_graph(plugin.parent))
    assert cycles == [], "module-level import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _plugin_imports_of_other_plugins(plugins: Path) -> dict[str, list[str]]:
    """Per plugin package (``plugins/*/dfbench_*``), the other plugins' packages it imports, lazy
    imports included (package code only; a plugin's tests may compare against another family)."""
    packages = {p.name for p in plugins.glob("*/dfbench_*") if (p / "__init__.py").exists()}
    out: dict[str, list[str]] = {}
    for pkg in sorted(plugins.glob("*/dfbench_*/__init__.py")):
        own = pkg.parent.name
        for path in sorted(pkg.parent.rglob("*.py")):
            names = _imports(ast.parse(path.read_text(), filename=str(path)), "x.y", False, top_level_only=False)
            other = sorted({n.split(".")[0] for n in names} & packages - {own})
            if other:
                out[str(path.relative_to(plugins))] = other
    return out


def test_plugins_depend_on_the_core_only():
    """One-way dependencies (plugins -> core): shared code (the SBI generator, SAM) lives in the
    core, so no plugin needs another plugin installed."""
    assert _plugin_imports_of_other_plugins(ROOT / "plugins") == {}


def test_the_plugin_dependency_check_sees_an_import(tmp_path):
    for name, code in (("a", "def f():\n    from dfbench_b.x import y\n"), ("b", "import dfbench\n")):
        (tmp_path / name / f"dfbench_{name}").mkdir(parents=True)
        (tmp_path / name / f"dfbench_{name}" / "__init__.py").write_text(code)
    assert _plugin_imports_of_other_plugins(tmp_path) == {"a/dfbench_a/__init__.py": ["dfbench_b"]}


def test_cli_package_is_one_small_file_per_command_group():
    long = {p.name: n for p in (PKG / "cli").glob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}, f"files over 500 lines in dfbench/cli/: {long}"


def test_the_cycle_finder_sees_a_cycle():
    # Guard against a check that can never fail: a two-module loop and a self-contained tree.
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    tree = ast.parse("from . import sibling\nfrom ..up import thing\nimport os\n")
    assert _imports(tree, "pkg.sub.mod", False, top_level_only=True) >= {"pkg.sub", "pkg.sub.sibling", "pkg.up.thing"}


def test_every_core_command_is_registered_in_one_place():
    """Each top-level click command or group defined in dfbench/cli/ is in ``CORE_COMMANDS`` (so a
    reader finds every core command in dfbench/cli/__init__.py), ``prepare`` and ``faces`` included,
    and none comes from a plugin hook."""
    from dfbench.cli import CORE_COMMANDS

    defined = set()
    for path in (PKG / "cli").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any(
                ast.unparse(d).startswith(("click.command", "click.group")) for d in node.decorator_list
            ):
                defined.add(node.name)
    registered = {c.callback.__name__ for c in CORE_COMMANDS}
    assert defined - {"cli"} == registered  # `cli` is the root group itself (group.py)
    assert {"prepare", "faces", "run", "robustness", "bench", "hub", "compare"} <= {c.name for c in CORE_COMMANDS}


def test_help_does_not_import_torch():
    """``dfbench --help`` (every command listed, plugin commands loaded) stays torch-free: command
    modules import their engines inside the command bodies."""
    import subprocess
    import sys

    code = ("import sys\nfrom click.testing import CliRunner\nfrom dfbench.cli import cli\n"
            "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "assert 'prepare' in r.output and 'robustness' in r.output, r.output\n"
            "print(sorted(m for m in ('torch', 'cv2', 'av') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_no_python_file_is_over_500_lines():
    """Issue 13: files a reader can hold in their head (package, plugins and tests alike)."""
    repo = Path(__file__).resolve().parents[1]
    long = {str(p.relative_to(repo)): n for p in [*repo.glob("dfbench/**/*.py"), *repo.glob("plugins/*/**/*.py"),
                                                   *repo.glob("tests/*.py")]
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, long
