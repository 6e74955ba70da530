"""deploy/: the local cluster script runs here, for real; Docker and Kubernetes cannot, so
their files are parsed and checked against each other, the Dockerfile and deploy/README.md.

The local cluster test starts ``deploy/local/cluster.sh start 2``, runs the quickstart on it
with the ``daskflow`` command (or ``python -c`` when the CLI is absent), stops it, and checks
that no process it started is left (each carries a marker in its environment).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CLUSTER_SH = DEPLOY / "local" / "cluster.sh"
MARKER = "DASKFLOW_TEST_PROCESS_MARKER"


def _version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.MULTILINE).group(1)


IMAGE = f"daskflow:{_version()}"


# -- deploy/local/cluster.sh -----------------------------------------------------------------

needs_local_cluster = pytest.mark.skipif(
    shutil.which("bash") is None or not Path("/proc/self/environ").exists(),
    reason="needs bash and /proc (Linux)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_with_marker(marker: str) -> list[int]:
    """Live processes whose environment holds ``MARKER=marker``."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return [pid for pid in found if pid != os.getpid()]


class LocalCluster:
    """Runs ``cluster.sh`` with its own state folder and a marker in the environment."""

    def __init__(self, state: Path, pythonpath: str | None = None) -> None:
        self.marker = uuid.uuid4().hex
        self.state = state
        self.env = {
            **os.environ,
            "DASKFLOW_CLUSTER_DIR": str(state),
            "DASKFLOW_PYTHON": sys.executable,
            "DASKFLOW_CLUSTER_TIMEOUT": "60",
            MARKER: self.marker,
        }
        if pythonpath:
            self.env["PYTHONPATH"] = pythonpath

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(CLUSTER_SH), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def leftovers(self) -> list[int]:
        return processes_with_marker(self.marker)

    def kill_leftovers(self) -> None:
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def local_cluster(tmp_path):
    # no PYTHONPATH: the workers cannot import quickstart; the CLI ships its classes
    cluster = LocalCluster(tmp_path / "state")
    yield cluster
    # whatever happened in the test: stop, and leave nothing behind
    if cluster.leftovers():
        cluster("stop", timeout=60)
        deadline = time.monotonic() + 10
        while cluster.leftovers() and time.monotonic() < deadline:
            time.sleep(0.2)
        cluster.kill_leftovers()


def _run_quickstart(address: str, data: Path) -> tuple[subprocess.CompletedProcess, bool]:
    """The quickstart flow on the cluster: with the CLI when it exists, else ``python -c``;
    the finished process, and whether it was the CLI.

    The workers cannot import ``quickstart`` (it is not on their path): the tasks reach
    them cloudpickled by value.
    """
    quickstart = ROOT / "examples" / "quickstart.py"
    cli = importlib.util.find_spec("daskflow.cli") is not None
    if cli:
        exe = Path(sys.executable).with_name("daskflow")
        command = [str(exe)] if exe.exists() else [sys.executable, "-m", "daskflow"]
        command += ["run", f"{quickstart}:TaskTrain", "--param", "do_preprocess=false"]
        command += ["--scheduler", address, "--dir", str(data)]
    else:
        code = (
            "import daskflow, quickstart\n"
            f"daskflow.set_dir({str(data)!r})\n"
            "flow = daskflow.Workflow(quickstart.TaskTrain, {'do_preprocess': False})\n"
            f"flow.run(scheduler={address!r})\n"
        )
        command = [sys.executable, "-c", code]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if not cli:
        env["PYTHONPATH"] = str(ROOT / "examples")  # python -c imports quickstart by name
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120), cli


@needs_local_cluster
@pytest.mark.slow
def test_local_cluster_runs_the_quickstart_and_stops(local_cluster, tmp_path):
    port, dashboard = free_port(), free_port()
    started = local_cluster("start", "2", "--port", str(port), "--dashboard-port", str(dashboard))
    assert started.returncode == 0, started.stderr
    address = f"tcp://127.0.0.1:{port}"
    assert started.stdout == f"{address}\n"  # only the address on stdout
    assert f"dashboard http://127.0.0.1:{dashboard}/status" in started.stderr
    pid_files = sorted(p.name for p in local_cluster.state.glob("*.pid"))
    assert pid_files == ["scheduler.pid", "worker-1.pid", "worker-2.pid"]
    assert len(local_cluster.leftovers()) >= 3  # scheduler, 2 nannies and their workers

    status = local_cluster("status")
    assert status.returncode == 0 and status.stdout == f"{address}\n"
    assert "2 of 2 worker(s) alive" in status.stderr

    # a second start with the same state folder refuses, and starts nothing
    again = local_cluster("start", "1", "--port", str(free_port()))
    assert again.returncode == 1 and "already running" in again.stderr

    # the quickstart pipeline, run by the cluster's workers
    data = tmp_path / "data"
    ran, cli = _run_quickstart(address, data)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"running 3 tasks on {address}" in ran.stderr  # daskflow's progress names it
    if cli:
        assert "3 ran successfully" in ran.stdout
    (model_file,) = (data / "TaskTrain").glob("TaskTrain_False_*-data.pkl")
    model = pickle.loads(model_file.read_bytes())
    assert model == pytest.approx({"slope": 2.0, "intercept": 1.0})

    stopped = local_cluster("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped 3 process(es)" in stopped.stderr
    assert local_cluster.leftovers() == []
    assert list(local_cluster.state.glob("*.pid")) == []
    gone = local_cluster("status")
    assert gone.returncode == 3 and "not running" in gone.stderr


@needs_local_cluster
def test_local_cluster_port_in_use_fails_clearly_and_leaves_nothing(local_cluster):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = local_cluster("start", "1", "--port", str(port), timeout=60)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert result.stdout == ""
    assert local_cluster.leftovers() == []


@needs_local_cluster
def test_local_cluster_usage_and_nothing_running(local_cluster):
    for args in ([], ["start"], ["start", "0"], ["start", "2", "--port", "x"], ["bogus"]):
        result = local_cluster(*args, timeout=30)
        assert result.returncode == 2, args
        assert "cluster.sh start N [--port P]" in result.stderr
    status = local_cluster("status", timeout=30)
    assert status.returncode == 3 and "not running" in status.stderr
    stop = local_cluster("stop", timeout=30)
    assert stop.returncode == 0
    assert local_cluster.leftovers() == []


@needs_local_cluster
def test_local_cluster_without_distributed_says_what_to_do(tmp_path):
    cluster = LocalCluster(tmp_path / "state")
    cluster.env["DASKFLOW_PYTHON"] = "false"  # a "python" that cannot import anything
    result = cluster("start", "1", timeout=30)
    assert result.returncode == 1
    assert "cannot import distributed" in result.stderr and "DASKFLOW_PYTHON" in result.stderr
    assert cluster.leftovers() == []


# -- Docker and Kubernetes files, checked against each other -----------------------------------


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DEPLOY / "docker" / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def dockerfile():
    return (DEPLOY / "docker" / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def daskcluster():
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "daskcluster.yaml").read_text()))
    assert len(docs) == 1
    return docs[0]


@pytest.fixture(scope="module")
def helm():
    return yaml.safe_load((DEPLOY / "kubernetes" / "helm-values.yaml").read_text())


@pytest.fixture(scope="module")
def readme():
    return (DEPLOY / "README.md").read_text()


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile)
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _flag(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_dockerfile(dockerfile):
    steps = _instructions(dockerfile)
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(args for kind, args in steps if kind == "RUN")
    assert 'pip install ".[s3,cluster]" "dask[distributed]"' in runs  # cluster: the dashboard
    # the Helm chart's commands exist in the image
    assert "/usr/local/bin/dask-scheduler" in runs and "/usr/local/bin/dask-worker" in runs
    # what it copies exists, relative to the build context (the repository root)
    for kind, args in steps:
        if kind == "COPY":
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source
    (expose,) = [args for kind, args in steps if kind == "EXPOSE"]
    assert expose.split() == ["8786", "8787"]
    (cmd,) = [args for kind, args in steps if kind == "CMD"]
    assert yaml.safe_load(cmd) == ["dask", "worker", "tcp://scheduler:8786"]
    # the build command in its header is the one deploy/README.md gives
    assert f"docker build -f deploy/docker/Dockerfile -t {IMAGE} ." in dockerfile
    ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text().split()
    for kind, args in steps:
        if kind == "COPY":
            for source in args.split()[:-1]:
                assert f"!{source}" in ignore or f"!{source}/" in ignore, source


def test_compose_services_image_ports_and_addresses(compose, dockerfile):
    services = compose["services"]
    assert {"scheduler", "worker", "minio", "createbucket", "client"} <= set(services)
    for name in ("scheduler", "worker", "client"):
        service = services[name]
        assert service["image"] == IMAGE, name
        assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        context = (DEPLOY / "docker" / service["build"]["context"]).resolve()
        assert context == ROOT and (context / service["build"]["dockerfile"]).is_file()

    scheduler = services["scheduler"]
    assert _flag(scheduler["command"], "--port") == "8786"
    assert _flag(scheduler["command"], "--dashboard-address") == ":8787"
    assert set(scheduler["ports"]) == {"8786:8786", "8787:8787"}
    assert "8787/health" in " ".join(scheduler["healthcheck"]["test"])

    worker = services["worker"]
    assert worker["command"][:3] == ["dask", "worker", "tcp://scheduler:8786"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["depends_on"]["scheduler"]["condition"] == "service_healthy"
    assert worker["depends_on"]["createbucket"]["condition"] == "service_completed_successfully"
    # the image's default command joins the same scheduler
    assert '["dask", "worker", "tcp://scheduler:8786"]' in dockerfile


def test_compose_environment_wires_s3(compose):
    services = compose["services"]
    env = services["worker"]["environment"]
    for name in ("scheduler", "client"):
        assert services[name]["environment"] == env, name
    minio = services["minio"]
    # the credentials are MinIO's root user
    assert env["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"]
    assert len(minio["environment"]["MINIO_ROOT_PASSWORD"]) >= 8  # MinIO's minimum
    # both endpoint variables name the minio service's S3 port
    assert env["AWS_ENDPOINT_URL_S3"] == env["DASKFLOW_S3_ENDPOINT"] == "http://minio:9000"
    assert "9000:9000" in minio["ports"]
    assert minio["command"][:2] == ["server", "/data"]
    # the bucket examples/s3_pipeline.py writes to is the one createbucket makes
    init = services["createbucket"]
    assert init["image"].startswith("minio/mc")
    assert init["environment"]["BUCKET"] == env["DASKFLOW_S3_BUCKET"]
    assert init["environment"]["MINIO_ROOT_USER"] == minio["environment"]["MINIO_ROOT_USER"]
    assert init["environment"]["MINIO_ROOT_PASSWORD"] == env["AWS_SECRET_ACCESS_KEY"]
    script = " ".join(init["command"])
    assert "http://minio:9000" in script and 'mc mb --ignore-existing "local/$$BUCKET"' in script
    # task modules: mounted where PYTHONPATH points, in every Dask container
    for name in ("scheduler", "worker", "client"):
        (mount,) = services[name]["volumes"]
        assert mount.split(":")[-2] == env["PYTHONPATH"] == "/work/pipelines", name


def _containers(spec):
    return {c["name"]: c for c in spec["spec"]["containers"]}


def test_daskcluster_resource(daskcluster, compose):
    assert daskcluster["apiVersion"] == "kubernetes.dask.org/v1"
    assert daskcluster["kind"] == "DaskCluster"
    name = daskcluster["metadata"]["name"]
    spec = daskcluster["spec"]
    (worker,) = _containers(spec["worker"]).values()
    (scheduler,) = _containers(spec["scheduler"]).values()
    assert worker["image"] == scheduler["image"] == IMAGE
    assert spec["worker"]["replicas"] == compose["services"]["worker"]["deploy"]["replicas"]
    assert worker["args"][:2] == ["dask", "worker"] and "$(DASK_WORKER_NAME)" in worker["args"]
    assert scheduler["args"][:2] == ["dask", "scheduler"]
    assert _flag(scheduler["args"], "--port") == "8786"
    assert _flag(scheduler["args"], "--dashboard-address") == ":8787"
    ports = {p["name"]: p["containerPort"] for p in scheduler["ports"]}
    assert ports == {"tcp-comm": 8786, "http-dashboard": 8787}
    assert scheduler["readinessProbe"]["httpGet"]["port"] == "http-dashboard"
    service = spec["scheduler"]["service"]
    assert service["selector"]["dask.org/cluster-name"] == name
    assert {(p["port"], p["targetPort"]) for p in service["ports"]} == {
        (8786, "tcp-comm"),
        (8787, "http-dashboard"),
    }
    # the workers get the S3 variables the compose workers have, from the documented Secret
    compose_env = compose["services"]["worker"]["environment"]
    for var in worker["env"]:
        assert var["name"] in compose_env
        assert var["valueFrom"]["secretKeyRef"]["name"] == "daskflow-s3"
        assert var["valueFrom"]["secretKeyRef"]["key"] == var["name"]


def test_helm_values(helm, daskcluster):
    for part in ("scheduler", "worker"):
        image = helm[part]["image"]
        assert f"{image['repository']}:{image['tag']}" == IMAGE, part
    assert helm["scheduler"]["servicePort"] == 8786
    assert helm["webUI"]["servicePort"] == 8787
    assert helm["scheduler"]["readinessProbe"]["httpGet"]["port"] == 8787
    assert helm["worker"]["replicas"] == daskcluster["spec"]["worker"]["replicas"]
    assert helm["jupyter"]["enabled"] is False
    # the chart names the service {fullname}-scheduler, the operator {name}-scheduler: the same
    assert helm["fullnameOverride"] == daskcluster["metadata"]["name"]
    # the chart runs worker.image.dask_worker and dask-scheduler: the image has both
    assert helm["worker"]["image"]["dask_worker"] == "dask-worker"
    (worker,) = _containers(daskcluster["spec"]["worker"]).values()
    assert helm["worker"]["env"] == worker["env"]


def test_readme_agrees_with_the_files(readme, compose, daskcluster, helm, dockerfile):
    assert IMAGE in readme
    assert f"docker build -f deploy/docker/Dockerfile -t {IMAGE} ." in readme
    assert "tcp://scheduler:8786" in readme and "8787" in readme
    service = f"{daskcluster['metadata']['name']}-scheduler"
    assert f"tcp://{service}:8786" in readme
    assert f"kubectl port-forward svc/{service} 8786:8786" in readme
    assert f"{helm['fullnameOverride']}-scheduler" == service
    # every variable of the compose environment is documented, with its value
    for name, value in compose["services"]["worker"]["environment"].items():
        assert f"| `{name}` | `{value}`" in readme, name
    # the Secret the Kubernetes files read, with every key they read from it
    create_secret = readme[readme.index("kubectl create secret generic daskflow-s3") :]
    create_secret = create_secret[: create_secret.index("```")]
    (worker,) = _containers(daskcluster["spec"]["worker"]).values()
    for var in worker["env"]:
        assert f"--from-literal={var['name']}=" in create_secret
    # how to pass the endpoint as storage options, and the environment alternative
    assert '"client_kwargs": {"endpoint_url": os.environ["DASKFLOW_S3_ENDPOINT"]}' in readme
    assert "AWS_ENDPOINT_URL_S3=http://minio:9000" in readme
    # the local script, and the commands compose users type
    assert "deploy/local/cluster.sh start" in readme and "deploy/local/cluster.sh stop" in readme
    assert "DASKFLOW_CLUSTER_DIR" in readme
    assert "docker compose -f deploy/docker/compose.yaml up -d --build" in readme
    assert "--scheduler tcp://scheduler:8786 --dir s3://daskflow/quickstart" in readme
    assert compose["services"]["worker"]["environment"]["DASKFLOW_S3_BUCKET"] == "daskflow"
    # other cluster managers: what to pass to scheduler=, and shared storage
    for name in ("Coiled", "dask-cloudprovider", "dask-jobqueue", "SLURM", "PBS"):
        assert name in readme, name
    assert "scheduler=Client(cluster)" in readme and "scheduler_address" in readme
    assert "shared filesystem" in readme and "s3://" in readme


STATE_DEFAULT = "${DASKFLOW_CLUSTER_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/daskflow/cluster}"


def test_cluster_script_is_documented_as_it_behaves(readme):
    script = CLUSTER_SH.read_text()
    assert os.access(CLUSTER_SH, os.X_OK)
    assert script.startswith("#!/usr/bin/env bash\n")
    assert STATE_DEFAULT in script and STATE_DEFAULT in readme
    # a state folder from an older default, or DASKFLOW_CLUSTER_DIR=.daskflow-cluster
    assert ".daskflow-cluster/" in (ROOT / ".gitignore").read_text().splitlines()


@needs_local_cluster
@pytest.mark.parametrize("where", ["XDG_STATE_HOME", "HOME"])
def test_cluster_state_is_per_user_not_in_the_current_folder(tmp_path, where):
    env = {
        k: v for k, v in os.environ.items() if k not in ("DASKFLOW_CLUSTER_DIR", "XDG_STATE_HOME")
    }
    env[where] = str(tmp_path / "user")
    state = tmp_path / "user" / (".local/state" if where == "HOME" else "") / "daskflow" / "cluster"
    project = tmp_path / "project"
    project.mkdir()
    for command, status in (("status", 3), ("stop", 0)):
        out = subprocess.run(
            ["bash", str(CLUSTER_SH), command],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == status, out.stderr
        assert str(state) in out.stderr  # found from any folder: one per user
    assert list(project.iterdir()) == []
