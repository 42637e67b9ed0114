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
