"""Architecture rules that hold the codebase together (STYLE.md): no service
imports another's package; `domain/` knows no framework; libs/common holds
no domain code."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("requests", "interventions", "timeclock", "notifications", "gateway")
FRAMEWORKS = ("nameko", "sqlalchemy", "flask", "kombu", "amqp", "eventlet", "alembic", "jinja2",
              "marshmallow", "psycopg2", "werkzeug")


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def python_files(folder):
    return list(folder.rglob("*.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service):
    others = {f"fieldwork_{s}" for s in SERVICES if s != service}
    offenders = [(str(path.relative_to(REPO)), module)
                 for path in python_files(REPO / "services" / service)
                 for module in imported_modules(path) if module.split(".")[0] in others]
    assert offenders == []


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "gateway"])
def test_domain_code_knows_no_framework(service):
    domain = REPO / "services" / service / f"fieldwork_{service}" / "domain"
    assert domain.is_dir(), f"{service} has no domain/ package"
    offenders = [(str(path.relative_to(REPO)), module)
                 for path in domain.rglob("*.py")
                 for module in imported_modules(path) if module.split(".")[0] in FRAMEWORKS]
    assert offenders == []


def test_common_imports_no_service():
    services = {f"fieldwork_{s}" for s in SERVICES}
    offenders = [(str(path.relative_to(REPO)), module)
                 for path in (REPO / "libs" / "common").rglob("*.py")
                 for module in imported_modules(path) if module.split(".")[0] in services]
    assert offenders == []


@pytest.mark.parametrize("folder", ["libs/common"] + [f"services/{s}" for s in SERVICES])
def test_every_package_is_installable(folder):
    assert (REPO / folder / "pyproject.toml").is_file()


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "gateway"])
def test_nameko_run_finds_exactly_one_service_in_each_module(service):
    """`nameko run fieldwork_<s>.service` runs every class of the module that
    has entrypoints: an imported mixin or helper class must not be one."""
    import importlib
    import inspect

    module = importlib.import_module(f"fieldwork_{service}.service")
    found = [name for name, cls in inspect.getmembers(module, inspect.isclass)
             if inspect.getmembers(cls, lambda m: getattr(m, "nameko_entrypoints", None))]
    assert len(found) == 1, found


@pytest.mark.parametrize("service", SERVICES)
def test_events_go_through_the_outbox_and_the_shared_consumer(service):
    """No service dispatches an event itself (nameko's EventDispatcher would
    bypass the outbox), subscribes with nameko's bare event_handler (loss on
    error, no retries, no dead letters) or serves nameko's bare rpc (a lost
    broker connection while replying stops the service)."""
    forbidden = {"nameko.events", "nameko.standalone.events", "nameko.messaging", "nameko.rpc"}
    offenders = [(str(path.relative_to(REPO)), module)
                 for path in (REPO / "services" / service).rglob("*.py")
                 for module in imported_modules(path) if module in forbidden]
    assert offenders == []


def wing_of(service, path):
    """The wing a module belongs to, or None for shared code: the gateway's
    `wings/<wing>/…`, a service's `domain/<wing>.py`, `rpc/<wing>.py` and
    notifications' `handlers/<wing>.py` (DESIGN.md §6)."""
    parts = path.relative_to(REPO / "services" / service / f"fieldwork_{service}").parts
    if service == "gateway":
        return parts[1] if len(parts) > 2 and parts[0] == "wings" else None
    if len(parts) == 2 and parts[0] in ("domain", "rpc", "handlers") and parts[1] != "__init__.py":
        stem = parts[1][:-3]
        return stem if stem in service_wings(service) else None
    return None


def service_wings(service):
    """A service's wings: the modules of its rpc/ (and handlers/) packages."""
    package = REPO / "services" / service / f"fieldwork_{service}"
    return {p.stem for folder in ("rpc", "handlers") for p in (package / folder).glob("*.py")
            if p.stem != "__init__"}


def imported_wing(service, module):
    parts = module.split(".")
    if parts[0] != f"fieldwork_{service}":
        return None
    if service == "gateway":
        return parts[2] if len(parts) > 2 and parts[1] == "wings" else None
    if len(parts) > 2 and parts[1] in ("domain", "rpc", "handlers") and parts[2] in service_wings(service):
        return parts[2]
    return None


@pytest.mark.parametrize("service", SERVICES)
def test_a_wing_never_imports_another_wing(service):
    offenders = []
    for path in python_files(REPO / "services" / service / f"fieldwork_{service}"):
        wing = wing_of(service, path)
        if wing is None:
            continue
        for module in imported_modules(path):
            other = imported_wing(service, module)
            if other is not None and other != wing:
                offenders.append((str(path.relative_to(REPO)), module))
    assert offenders == []


def test_the_gateway_registers_every_wing_from_one_list():
    from fieldwork_gateway.wings import WINGS
    folders = {p.name for p in (REPO / "services/gateway/fieldwork_gateway/wings").iterdir()
               if (p / "routes.py").is_file()}
    assert set(WINGS) == folders


def test_the_interventions_wings_have_the_same_names_on_both_sides_of_the_rpc_line():
    from fieldwork_gateway.wings import WINGS
    assert {"masterdata", "interventions", "workshop", "reads"} <= service_wings("interventions")
    assert service_wings("interventions") <= set(WINGS)
