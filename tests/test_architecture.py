"""The shape of the code base: dependencies point one way, no import cycles, selectors only
read, HTML only in templates, and the database holds guard triggers only."""

import ast
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
APPS = ("clinic", "scheduling", "monitoring")
# monitoring -> scheduling -> clinic: an app may import only the apps after it.
MAY_IMPORT = {"clinic": {"clinic"}, "scheduling": {"clinic", "scheduling"}, "monitoring": set(APPS)}
GUARD_TRIGGERS = {
    ("clinic_auditevent", "clinic_auditevent_no_truncate"),
    ("clinic_auditevent", "clinic_auditevent_no_update_delete"),
    ("clinic_auditcheckpoint", "clinic_auditcheckpoint_no_update_delete"),
    ("monitoring_vitalsreading", "monitoring_vitalsreading_no_update_delete"),
}


def app_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def imports_of(name: str, path: Path) -> set[str]:
    """Every module of the three apps that ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@pytest.fixture(scope="module")
def graph():
    modules = dict(app_modules())
    return {name: {m for m in imports_of(name, path) if m in modules and m != name} for name, path in modules.items()}


def test_it_points_dependencies_one_way(graph):
    wrong = [
        f"{name} imports {target}"
        for name, targets in graph.items()
        for target in targets
        if target.split(".")[0] not in MAY_IMPORT[name.split(".")[0]]
    ]
    assert wrong == []


def test_it_has_no_import_cycle(graph):
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def test_selectors_never_import_services(graph):
    wrong = [
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name.rpartition(".")[2].startswith("selectors")
        for target in targets
        if target.rpartition(".")[2].startswith("services")
    ]
    assert wrong == []


def test_no_html_is_built_in_python():
    offenders = [str(path.relative_to(ROOT)) for _, path in app_modules() if "mark_safe" in path.read_text()]
    assert offenders == []


@pytest.mark.django_db
def test_the_database_holds_guard_triggers_only():
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal")
        triggers = set(cursor.fetchall())
    assert triggers == GUARD_TRIGGERS


# The project's configuration names every app; the core app's own code learns of the others
# through its registries (clinic.registry), filled by their AppConfig.ready().
PROJECT_FILES = {"settings.py", "urls.py", "celery.py", "wsgi.py", "asgi.py"}


def test_the_core_app_names_no_other_app():
    found = []
    for name, path in app_modules():
        if not name.startswith("clinic") or path.name in PROJECT_FILES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value.startswith(("scheduling", "monitoring")):
                    found.append(f"{name}:{node.lineno} {node.value!r}")
    assert found == []
