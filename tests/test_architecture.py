"""The architecture's rules, checked on the code itself (../shared/design/architecture.md):

- `rxapp/domain/` is plain Python: no Reflex, no database, no HTTP, no integration, no other rxapp package;
- integrations translate into the domain's types and import nothing else of the product;
- a Reflex state or page renders what a read model or a service gives it: it never opens the database;
- no import cycles between modules (imports inside functions count: hiding one there is still a cycle);
- the environment is read only in the configuration module;
- no module over 500 lines (data files aside).

Each rule is also run on a small tree that breaks it, so the checker itself is seen to fail.
"""
from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rxapp", "integrations")
MAX_LINES = 500

DOMAIN_MAY_NOT_IMPORT = ("reflex", "sqlalchemy", "sqlmodel", "httpx", "websockets", "starlette", "apscheduler",
                         "alembic", "integrations", "rxapp")  # rxapp.domain itself is allowed
RENDER_MAY_NOT_IMPORT = ("sqlalchemy", "sqlmodel", "rxapp.plumbing.db")
# Reading the environment outside the config module, each with the reason it is not the product's settings.
ENVIRONMENT_EXEMPT = {
    "rxapp.demo": "the demo starts the simulators and the product with an environment it builds",
    "rxapp.domain.geo": "PROJ_DATA is PROJ's own grid search path, mirrored to tell whether a grid is on disk",
    "integrations.storm.simulator": "a stand-alone simulator's command-line defaults",
    "integrations.govuk_notify.simulator.__main__": "a stand-alone simulator's command-line defaults",
}
CONFIG_MODULE = "rxapp.plumbing.config"


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    imports: set[str] = field(default_factory=set)  # every imported name, fully qualified
    reads_environment: bool = False


def load_tree(root: Path, packages=PACKAGES) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join(parts)
            modules[name] = Module(name, path, is_package, ast.parse(path.read_text(), str(path)))
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                module.imports.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, node)
                module.imports.add(base)
                module.imports.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv") \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                module.reads_environment = True
            elif isinstance(node, ast.Name) and node.id in ("environ", "getenv"):
                module.reads_environment = True
    return modules


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.name.split(".")
    if not module.is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def project_edges(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a name imported from a package that is itself a module counts
    as that module; otherwise the package)."""
    edges: dict[str, set[str]] = {}
    for module in modules.values():
        targets = set()
        for name in module.imports:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module.name:
                targets.add(name)
        edges[module.name] = targets
    return edges


def _matches(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def domain_violations(modules: dict[str, Module]) -> list[str]:
    found = []
    for module in modules.values():
        if not _matches(module.name, ("rxapp.domain",)):
            continue
        for name in sorted(module.imports):
            if _matches(name, DOMAIN_MAY_NOT_IMPORT) and not _matches(name, ("rxapp.domain",)):
                found.append(f"{module.name} imports {name}")
    return found


def integration_violations(modules: dict[str, Module]) -> list[str]:
    found = []
    for module in modules.values():
        if not _matches(module.name, ("integrations",)):
            continue
        for name in sorted(module.imports):
            if _matches(name, ("rxapp",)) and not _matches(name, ("rxapp.domain",)):
                found.append(f"{module.name} imports {name}")
    return found


def is_render_module(module: Module) -> bool:
    """A Reflex state or page: a module that imports Reflex, other than the app itself and the publisher
    (which hands read models to open pages)."""
    return "reflex" in module.imports and module.name not in ("rxapp.rxapp", "rxapp.attendance.publish")


def render_violations(modules: dict[str, Module]) -> list[str]:
    found = []
    for module in modules.values():
        if not is_render_module(module):
            continue
        for name in sorted(module.imports):
            if _matches(name, RENDER_MAY_NOT_IMPORT) or (name.startswith("rxapp.") and name.endswith(".models")):
                found.append(f"{module.name} imports {name}")
    return found


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    edges = project_edges(modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def environment_violations(modules: dict[str, Module]) -> list[str]:
    return sorted(m.name for m in modules.values()
                  if m.reads_environment and m.name != CONFIG_MODULE and m.name not in ENVIRONMENT_EXEMPT)


def long_modules(modules: dict[str, Module]) -> list[str]:
    return sorted(f"{m.name} ({n} lines)" for m in modules.values()
                  if (n := len(m.path.read_text().splitlines())) > MAX_LINES)


# ---- the rules hold on the product ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def product():
    return load_tree(ROOT)


def test_the_domain_is_plain_python(product):
    assert domain_violations(product) == []


def test_integrations_import_only_the_domain_of_the_product(product):
    assert integration_violations(product) == []


def test_states_and_pages_never_open_the_database(product):
    assert render_violations(product) == []


def test_no_two_modules_import_each_other(product):
    assert cycles(product) == []


def test_the_environment_is_read_only_in_the_config_module(product):
    assert environment_violations(product) == []


def test_no_module_is_over_500_lines(product):
    assert long_modules(product) == []


# ---- the checker fails on a tree that breaks each rule --------------------------------------------------

BROKEN = {
    "rxapp/__init__.py": "",
    "rxapp/domain/__init__.py": "",
    "rxapp/domain/rules.py": "import sqlmodel\nfrom rxapp.attendance import service\n",
    "rxapp/attendance/__init__.py": "",
    "rxapp/attendance/models.py": "X = 1\n",
    "rxapp/attendance/service.py": "def f():\n    from rxapp.attendance.views import g  # hidden in a function\n",
    "rxapp/attendance/views.py": "from rxapp.attendance import service\nimport os\nHOME = os.environ['HOME']\n",
    "rxapp/attendance/board_state.py": "import reflex as rx\nfrom rxapp.plumbing.db import session_scope\n"
                                       "from rxapp.attendance.models import X\n",
    "rxapp/plumbing/__init__.py": "",
    "rxapp/plumbing/db.py": "def session_scope():\n    pass\n",
    "integrations/__init__.py": "",
    "integrations/storm.py": "from rxapp.attendance.service import f\nfrom rxapp.domain.rules import x\n",
    "integrations/big.py": "x = 1\n" * (MAX_LINES + 1),
}


@pytest.fixture
def broken(tmp_path):
    for rel, text in BROKEN.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return load_tree(tmp_path)


def test_the_checker_sees_a_domain_that_imports_the_database_or_a_service(broken):
    assert domain_violations(broken) == ["rxapp.domain.rules imports rxapp.attendance",
                                         "rxapp.domain.rules imports rxapp.attendance.service",
                                         "rxapp.domain.rules imports sqlmodel"]


def test_the_checker_sees_an_integration_that_imports_a_service(broken):
    assert integration_violations(broken) == ["integrations.storm imports rxapp.attendance.service",
                                              "integrations.storm imports rxapp.attendance.service.f"]


def test_the_checker_sees_a_state_that_opens_the_database(broken):
    assert render_violations(broken) == ["rxapp.attendance.board_state imports rxapp.attendance.models",
                                         "rxapp.attendance.board_state imports rxapp.plumbing.db",
                                         "rxapp.attendance.board_state imports rxapp.plumbing.db.session_scope"]


def test_the_checker_sees_a_cycle_hidden_inside_a_function(broken):
    assert cycles(broken) == [["rxapp.attendance.service", "rxapp.attendance.views"]]


def test_the_checker_sees_the_environment_read_outside_the_config(broken):
    assert environment_violations(broken) == ["rxapp.attendance.views"]


def test_the_checker_sees_a_long_module(broken):
    assert long_modules(broken) == [f"integrations.big ({MAX_LINES + 1} lines)"]


def test_the_readme_layout_table_matches_the_tree():
    """Every path the README's layout table names exists, and every capability folder is in it."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    named_paths = [p for row in rows for p in re.findall(r"`([a-z_./]+/?)`", row.split("|")[1])]
    assert named_paths and [p for p in named_paths if not (ROOT / p).exists()] == []
    # Files a row names inside its folder, e.g. `service.py` or `track_*` in the rxapp/attendance/ row.
    for row in rows:
        folder, what = row.split("|")[1].strip().strip("`"), row.split("|")[2]
        if not folder.endswith("/"):
            continue
        for name in re.findall(r"`([a-z_]+(?:\.py|_\*))`", what):
            pattern = name.replace("_*", "_*.py")
            assert list((ROOT / folder).glob(pattern)), f"{folder}{name} is in the README but not in the tree"
    packages = {f"rxapp/{p.name}/" for p in (ROOT / "rxapp").iterdir() if (p / "__init__.py").exists()}
    assert packages - set(named_paths) == set()
