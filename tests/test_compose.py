"""Static checks of the docker compose stack (no Docker engine needed).

Parses docker-compose.yml, the per-service Dockerfiles, the nameko config
files and deploy/postgres/init.sql, and checks the properties the stack
relies on: health-gated start-up, scalable nameko services, exec-form
commands (so SIGTERM reaches nameko/gunicorn as PID 1), non-root images, and
the one-shot `topology` step that declares every queue before any service
starts.
"""
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"

INFRA = ["rabbitmq", "postgres", "mailpit"]
NAMEKO_SERVICES = ["requests", "interventions", "timeclock", "notifications"]
FIELDWORK_SERVICES = NAMEKO_SERVICES + ["gateway"]
EXPECTED_PORTS = {
    "rabbitmq": {"15672"},
    "mailpit": {"8025"},
    "gateway": {"8000"},
}


@pytest.fixture(scope="module")
def services():
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict) and isinstance(
        document.get("services"), dict
    ), "docker-compose.yml has no 'services' mapping"
    return document["services"]


def _depends_on(service):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # short syntax: no condition at all
        return {name: {} for name in deps}
    return deps


def _container_port(entry):
    """Container side of a port entry, short ("8000:8000") or long syntax."""
    if isinstance(entry, dict):
        return str(entry.get("target"))
    text = str(entry).split("/")[0]
    return text.rsplit(":", 1)[-1]


def _dockerfile_instructions(name):
    path = ROOT / "services" / name / "Dockerfile"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    text = path.read_text()
    # Join line continuations, drop comments and blank lines.
    text = re.sub(r"\\\r?\n", " ", text)
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, argument = line.partition(" ")
        instructions.append((keyword.upper(), argument.strip()))
    return path, text, instructions


def test_all_services_exist(services):
    missing = [n for n in INFRA + FIELDWORK_SERVICES if n not in services]
    assert not missing, f"docker-compose.yml lacks services: {missing}"


@pytest.mark.parametrize("name", ["rabbitmq", "postgres"])
def test_infrastructure_has_healthcheck(services, name):
    healthcheck = services[name].get("healthcheck") or {}
    assert healthcheck.get("test"), (
        f"{name} has no healthcheck, so depends_on: service_healthy "
        "cannot wait for it"
    )


@pytest.mark.parametrize("name", FIELDWORK_SERVICES)
def test_fieldwork_services_wait_for_healthy_infrastructure(services, name):
    deps = _depends_on(services[name])
    for infra in ("rabbitmq", "postgres"):
        assert infra in deps, f"{name} does not depend on {infra}"
        condition = (deps[infra] or {}).get("condition")
        assert condition == "service_healthy", (
            f"{name} depends on {infra} with condition {condition!r}, "
            "expected 'service_healthy'"
        )


def test_no_container_name(services):
    named = [n for n, s in services.items() if "container_name" in s]
    assert not named, (
        f"services with container_name (prevents --scale): {named}"
    )


@pytest.mark.parametrize("name", NAMEKO_SERVICES)
def test_nameko_services_publish_no_ports(services, name):
    ports = services[name].get("ports")
    assert not ports, (
        f"{name} publishes ports {ports}; nameko services must publish none "
        "so that they can be scaled"
    )


def test_only_expected_services_publish_ports(services):
    publishing = {n for n, s in services.items() if s.get("ports")}
    assert publishing == set(EXPECTED_PORTS), (
        f"services publishing ports: {sorted(publishing)}, "
        f"expected exactly {sorted(EXPECTED_PORTS)}"
    )
    for name, expected in EXPECTED_PORTS.items():
        published = {_container_port(p) for p in services[name]["ports"]}
        assert published == expected, (
            f"{name} publishes container ports {sorted(published)}, "
            f"expected {sorted(expected)}"
        )


@pytest.mark.parametrize("name", FIELDWORK_SERVICES)
def test_command_is_exec_form_and_working_dir(services, name):
    service = services[name]
    command = service.get("command")
    assert isinstance(command, list), (
        f"{name}: command must be a list (exec form), got {command!r}"
    )
    assert all(isinstance(part, str) for part in command), (
        f"{name}: every element of command must be a string: {command!r}"
    )
    expected_dir = f"/app/services/{name}"
    assert service.get("working_dir") == expected_dir, (
        f"{name}: working_dir is {service.get('working_dir')!r}, "
        f"expected {expected_dir!r}"
    )


@pytest.mark.parametrize("name", NAMEKO_SERVICES)
def test_nameko_service_command(services, name):
    expected = ["nameko", "run", "--config", "config.yml",
                f"fieldwork_{name}.service"]
    assert services[name].get("command") == expected, (
        f"{name}: command is {services[name].get('command')!r}, "
        f"expected {expected!r}"
    )


@pytest.mark.parametrize("name", FIELDWORK_SERVICES)
def test_dockerfile_runs_as_non_root(name):
    path, _, instructions = _dockerfile_instructions(name)
    users = [arg for keyword, arg in instructions if keyword == "USER"]
    assert users, f"{path.relative_to(ROOT)} has no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), (
        f"{path.relative_to(ROOT)} runs as {users[-1]!r}; expected a non-root user"
    )


@pytest.mark.parametrize("name", FIELDWORK_SERVICES)
def test_dockerfile_cmd_matches_compose_command(services, name):
    path, _, instructions = _dockerfile_instructions(name)
    rel = path.relative_to(ROOT)
    cmds = [arg for keyword, arg in instructions if keyword == "CMD"]
    assert cmds, f"{rel} has no CMD instruction"
    try:
        cmd = json.loads(cmds[-1])
    except json.JSONDecodeError:
        pytest.fail(f"{rel}: CMD is not in JSON exec form: {cmds[-1]!r}")
    assert isinstance(cmd, list), f"{rel}: CMD is not a JSON array: {cmds[-1]!r}"
    assert cmd == services[name].get("command"), (
        f"{rel}: CMD {cmd!r} differs from the compose command "
        f"{services[name].get('command')!r}"
    )


@pytest.mark.parametrize("name", FIELDWORK_SERVICES)
def test_no_shell_wrapping(services, name):
    path, text, instructions = _dockerfile_instructions(name)
    for keyword, arg in instructions:
        if keyword in ("CMD", "ENTRYPOINT"):
            assert not re.search(r"\bsh\b.*-c\b", arg), (
                f"{path.relative_to(ROOT)}: {keyword} wraps the process in "
                f"'sh -c' ({arg!r}); SIGTERM would not reach it"
            )
    command = " ".join(services[name].get("command") or [])
    assert not re.search(r"\bsh\b.*-c\b", command), (
        f"{name}: compose command wraps the process in 'sh -c': {command!r}"
    )
    assert "entrypoint" not in services[name], (
        f"{name}: compose entrypoint overrides the exec-form CMD"
    )


@pytest.mark.parametrize("name", NAMEKO_SERVICES)
def test_nameko_service_has_config(name):
    path = ROOT / "services" / name / "config.yml"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    config = yaml.safe_load(path.read_text())
    assert isinstance(config, dict) and "AMQP_URI" in config, (
        f"{path.relative_to(ROOT)} does not set AMQP_URI"
    )


@pytest.mark.parametrize("name", FIELDWORK_SERVICES)
def test_init_sql_creates_role_and_database(name):
    assert INIT_SQL.is_file(), f"{INIT_SQL.relative_to(ROOT)} is missing"
    sql = " ".join(INIT_SQL.read_text().split())
    role = rf"CREATE ROLE {name} LOGIN PASSWORD '{name}';"
    database = rf"CREATE DATABASE fieldwork_{name} OWNER {name};"
    assert re.search(re.escape(role), sql, re.IGNORECASE), (
        f"init.sql does not create role {name!r} (expected {role!r})"
    )
    assert re.search(re.escape(database), sql, re.IGNORECASE), (
        f"init.sql does not create database fieldwork_{name} owned by "
        f"{name} (expected {database!r})"
    )


TOPOLOGY_COMMAND = ["python", "-m", "fieldwork_common.topology"]


def test_topology_is_a_one_shot_step_after_rabbitmq(services):
    assert "topology" in services, "docker-compose.yml lacks the one-shot topology service"
    topology = services["topology"]
    assert topology.get("command") == TOPOLOGY_COMMAND, (
        f"topology: command is {topology.get('command')!r}, expected {TOPOLOGY_COMMAND!r}")
    assert topology.get("restart") == "no", (
        f"topology runs once: restart must be the string 'no', got {topology.get('restart')!r}")
    assert not topology.get("ports"), "topology publishes no ports"
    assert "container_name" not in topology
    deps = _depends_on(topology)
    assert (deps.get("rabbitmq") or {}).get("condition") == "service_healthy", (
        "topology must wait for a healthy rabbitmq")
    assert "entrypoint" not in topology


def test_topology_image_ships_the_module_it_runs(services):
    build = services["topology"].get("build") or {}
    dockerfile = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    assert dockerfile.is_file(), f"topology builds from a missing {dockerfile}"
    text = dockerfile.read_text()
    assert "libs/common" in text, f"{dockerfile.relative_to(ROOT)} does not install libs/common"
    spec = importlib.util.find_spec("fieldwork_common.topology")
    assert spec is not None, "fieldwork_common.topology is not importable"
    module = importlib.import_module("fieldwork_common.topology")
    assert callable(getattr(module, "main", None)), "fieldwork_common.topology has no main()"


@pytest.mark.parametrize("name", FIELDWORK_SERVICES)
def test_fieldwork_services_start_after_the_topology_step(services, name):
    condition = (_depends_on(services[name]).get("topology") or {}).get("condition")
    assert condition == "service_completed_successfully", (
        f"{name} depends on topology with condition {condition!r}, "
        "expected 'service_completed_successfully'"
    )


# --- the object store (docs/files.md) ------------------------------------------------

S3_CONFIG = ROOT / "deploy" / "seaweedfs" / "s3.json"


def test_seaweedfs_keeps_its_data_in_a_volume_and_is_not_open(services):
    weed = services.get("seaweedfs")
    assert weed, "docker-compose.yml lacks the seaweedfs object store"
    assert weed["image"].startswith("chrislusf/seaweedfs")
    assert not weed.get("ports"), "the S3 port stays inside the compose network"
    mounts = {entry.split(":")[1]: entry.split(":")[0] for entry in weed["volumes"]}
    assert mounts["/data"] == "s3data"
    config = next(a.split("=", 1)[1] for a in weed["command"] if a.startswith("-s3.config="))
    assert mounts[config] == "./deploy/seaweedfs/s3.json"
    assert "-s3" in weed["command"] and "-s3.iam=false" in weed["command"]
    assert (weed.get("healthcheck") or {}).get("test")


@pytest.mark.parametrize("name", ["gateway", "interventions"])
def test_the_services_that_store_files_use_the_key_seaweedfs_knows(services, name):
    env = services[name]["environment"]
    default = lambda value: value.split(":-", 1)[1].rstrip("}")  # noqa: E731
    [identity] = json.loads(S3_CONFIG.read_text())["identities"]
    assert identity["credentials"] == [{"accessKey": default(env["S3_ACCESS_KEY"]),
                                        "secretKey": default(env["S3_SECRET_KEY"])}]
    bucket = default(env["S3_BUCKET"])
    assert set(identity["actions"]) == {f"{a}:{bucket}" for a in ("Admin", "Read", "Write",
                                                                  "List", "Tagging")}
    assert default(env["S3_ENDPOINT_URL"]) == "http://seaweedfs:8333"
    assert (_depends_on(services[name]).get("seaweedfs") or {}).get("condition") == "service_healthy"
