"""Running on dask.distributed: a Client, a scheduler address, an active client; in-memory
outputs across workers; a worker killed during a task; worker resources; two clients at once;
an unreachable scheduler; a cluster of separate ``dask scheduler`` / ``dask worker``
processes; the dashboard link.

One ``LocalCluster`` of two single-threaded worker processes serves the module; tests that
break a cluster (kill a worker) start their own. Tasks save ``where()`` (pid, worker address)
in their outputs. Workers do not share the test's working directory, so every test puts its
outputs, run log and barriers under an absolute ``settings.dirpath``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from distributed import Client, Nanny  # noqa: E402
from parallel_tasks import (  # noqa: E402
    Fan,
    GetData,
    Preprocess,
    Train,
    meet,
    record,
    records,
    where,
)

import daskflow  # noqa: E402
from daskflow.errors import ClusterError, TaskError  # noqa: E402
from daskflow.tasks import TaskCache, TaskCachePandas, TaskPickle  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture
def worker_pids(client):
    return set(client.run(os.getpid).values())


@pytest.fixture(autouse=True)
def absolute_data_dir(tmp_path):
    """Outputs, run log and barriers under one absolute folder every worker can reach."""
    daskflow.set_dir(tmp_path / "data")
    return tmp_path / "data"


# -- tasks defined in this module (workers import it by name: they inherit sys.path) --------


class Branch(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        record(repr(self))
        meet("branches", 2)
        self.save({"i": self.i, **where()})


class Join(TaskPickle):
    def requires(self):
        return [Branch(i=0), Branch(i=1)]

    def run(self):
        record(repr(self))
        self.save({"branches": self.inputLoad(), **where()})


def _assert_ran_on_two_workers(out, worker_pids):
    pids = [b["pid"] for b in out["branches"]]
    assert len(set(pids)) == 2, f"both branches ran in one worker process: {pids}"
    assert {*pids, out["pid"]} <= worker_pids
    assert os.getpid() not in worker_pids
    assert sorted(records()) == ["Branch(i=0)", "Branch(i=1)", "Join()"]


# -- which cluster a run uses ----------------------------------------------------------------


def test_run_on_a_client(client, worker_pids):
    result = daskflow.Workflow(Join).run(scheduler=client, execution_summary=False)
    assert result.status == "SUCCESS"
    _assert_ran_on_two_workers(Join().outputLoad(), worker_pids)


class _Untokenizable:
    """A node argument that fails the run if Dask tokenizes it."""

    def __dask_tokenize__(self) -> str:
        raise AssertionError("the graph was tokenized node by node")

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (_Untokenizable, ())


def test_a_graph_goes_to_the_cluster_without_tokenizing_its_nodes(client):
    from daskflow.clusters import get_distributed

    dsk = {"a": (type, _Untokenizable()), "b": (repr, "a")}
    assert get_distributed(dsk, ["a", "b"], client=client) == [_Untokenizable, repr(_Untokenizable)]


def _after(seconds: float, value: str) -> str:
    time.sleep(seconds)
    return value


def test_every_node_is_collected_when_the_last_one_finishes_first(client):
    # the client waits on the last node's callback between looks at the others: a node
    # still running after it (a flow with several final tasks) must be collected too
    from daskflow.clusters import get_distributed

    seen = []
    dsk = {"slow": (_after, 1.0, "s"), "fast": (_after, 0.0, "f")}
    out = get_distributed(dsk, ["slow", "fast"], lambda key, ok: seen.append(key), client)
    assert out == ["s", "f"] and sorted(seen) == ["fast", "slow"]


def test_run_on_a_scheduler_address(cluster, worker_pids):
    result = daskflow.Workflow(Join).run(
        scheduler=cluster.scheduler_address, execution_summary=False
    )
    assert result.status == "SUCCESS"
    _assert_ran_on_two_workers(Join().outputLoad(), worker_pids)


def test_run_on_the_client_made_current(client, worker_pids):
    with client.as_current():
        result = daskflow.Workflow(Join).run(execution_summary=False)
    assert result.status == "SUCCESS"
    _assert_ran_on_two_workers(Join().outputLoad(), worker_pids)


def test_run_on_the_default_client_and_not_after_it_closed(cluster, worker_pids):
    with Client(cluster) as default_client:  # set as the process's default, as Dask does
        assert distributed.default_client() is default_client
        result = daskflow.Workflow(Join).run(execution_summary=False)
    assert result.status == "SUCCESS"
    _assert_ran_on_two_workers(Join().outputLoad(), worker_pids)
    # once it is closed, the default is the local one again (a single task: this process)
    daskflow.Workflow(Before).run(execution_summary=False)
    assert Before().outputLoad()["pid"] == os.getpid()


def test_task_class_defined_in_a_function_reaches_the_workers(client, worker_pids):
    # not importable by name (like a class in a notebook cell): cloudpickle sends it by value
    class Local(TaskPickle):
        def run(self):
            self.save({"answer": 42, **where()})

    daskflow.Workflow(Local).run(scheduler=client, execution_summary=False)
    out = Local().outputLoad()
    assert out["answer"] == 42 and out["pid"] in worker_pids


class Unrecorded(TaskPickle):
    def run(self):
        self.save(where())


def test_relative_output_folder_is_the_callers_not_the_workers(client, tmp_path, worker_pids):
    daskflow.set_dir("relative")  # relative to this test's working directory (tmp_path)
    daskflow.Workflow(Unrecorded).run(scheduler=client, execution_summary=False)
    files = list((tmp_path / "relative" / "Unrecorded").glob("*.pkl"))
    assert len(files) == 1
    assert pd.read_pickle(files[0])["pid"] in worker_pids


# -- in-memory outputs across workers --------------------------------------------------------


class CacheUp(TaskCache):
    i = daskflow.IntParameter()

    def run(self):
        record(repr(self))
        self.save({"i": self.i, **where()})


class CacheDown(TaskCachePandas):
    i = daskflow.IntParameter()

    def requires(self):
        return CacheUp(i=self.i)

    def run(self):
        record(repr(self))
        up = self.inputLoad()
        self.save(pd.DataFrame({"i": [up["i"]], "up_pid": [up["pid"]], "pid": [os.getpid()]}))


class CacheJoin(TaskPickle):
    def requires(self):
        return [CacheDown(i=0), CacheDown(i=1)]

    def run(self):
        record(repr(self))
        self.save({"frame": pd.concat(self.inputLoad(), ignore_index=True), **where()})


def test_cache_values_flow_across_workers_and_load_in_the_caller(client, worker_pids):
    result = daskflow.Workflow(CacheJoin).run(scheduler=client, execution_summary=False)
    assert result.status == "SUCCESS"
    out = CacheJoin().outputLoad()
    frame = out["frame"]
    assert frame["i"].tolist() == [0, 1]
    assert {*frame["pid"], *frame["up_pid"], out["pid"]} <= worker_pids
    for i in (0, 1):
        assert CacheUp(i=i).complete() and CacheDown(i=i).complete()
        assert CacheUp(i=i).outputLoad()["pid"] in worker_pids
        down = CacheDown(i=i).outputLoad()
        assert down.to_dict("records") == frame.iloc[[i]].to_dict("records")
    assert daskflow.Workflow(CacheJoin).complete()
    assert len(records()) == 5


def test_cache_task_complete_before_the_run_reaches_the_workers(client, worker_pids):
    daskflow.Workflow(CacheUp, {"i": 0}).run(scheduler="sync", execution_summary=False)
    daskflow.Workflow(CacheJoin).run(scheduler=client, execution_summary=False)
    assert records().count("CacheUp(i=0)") == 1
    down = CacheDown(i=0).outputLoad()
    assert down["pid"].item() in worker_pids
    assert down["up_pid"].item() == os.getpid()  # the value made here, before the run


# -- errors that cannot be pickled ----------------------------------------------------------


class NeedsTwoArgs(Exception):
    """Unpickling calls ``cls(*args)`` with one argument: it cannot come back."""

    def __init__(self, what, why):
        super().__init__(f"cannot frobnicate {what}: {why}")
        self.lock = threading.Lock()


class RaisesUnpicklable(TaskPickle):
    def run(self):
        raise NeedsTwoArgs("the widget", "it is on fire")


class LockCache(TaskCache):
    def run(self):
        self.save(threading.Lock())


def test_unpicklable_exception_on_a_worker_reports_task_type_and_message(client, capsys):
    with pytest.raises(RuntimeError) as info:
        daskflow.run([RaisesUnpicklable(), CacheUp(i=3)], scheduler=client)
    shown = "".join(traceback.format_exception_only(info.value.__cause__))
    assert "NeedsTwoArgs" in shown and "cannot frobnicate the widget: it is on fire" in shown
    assert "* 1 failed:\n    - 1 RaisesUnpicklable()" in capsys.readouterr().out
    assert CacheUp(i=3).outputLoad()["i"] == 3


def test_unpicklable_cache_output_on_a_worker_is_a_task_error_naming_the_task(client):
    with pytest.raises(RuntimeError) as info:
        daskflow.Workflow(LockCache).run(scheduler=client, execution_summary=False)
    assert isinstance(info.value.__cause__, TaskError)
    assert "LockCache()" in str(info.value.__cause__)
    assert not LockCache().complete()


# -- task modules the workers cannot import ---------------------------------------------------

UNSHIPPED = """
import daskflow
from daskflow.tasks import TaskPickle


class Part(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        self.save(self.i)


class Total(TaskPickle):
    def requires(self):
        return [Part(i=i) for i in range(3)]

    def run(self):
        self.save(sum(self.inputLoad()))
"""


@pytest.fixture
def unshipped(tmp_path, monkeypatch):
    """A task module importable here only: on a folder added to this process's sys.path after
    the workers started, and pickled by reference (it is not ``__main__``)."""
    name = f"unshipped_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / f"{name}.py").write_text(UNSHIPPED)
    monkeypatch.syspath_prepend(str(folder))
    yield importlib.import_module(name)
    sys.modules.pop(name, None)


def _assert_one_report(message, module):
    source = module.__file__
    assert message.startswith("3 tasks could not be unpickled on the workers ")
    assert f"(ModuleNotFoundError: No module named '{module.__name__}')" in message
    assert "3 Part(i=0,1,2)" in message
    assert f"`daskflow run {source}:Total`" in message  # fix 1: ship it by value
    assert f"client.upload_file({source!r})" in message  # fix 2: make it importable there
    assert "install its package there" in message


def test_module_the_workers_cannot_import_is_reported_once_with_both_fixes(
    client, unshipped, caplog
):
    flow = daskflow.Workflow(unshipped.Total)
    result = flow.run(scheduler=client, abort=False, execution_summary=False)
    assert result.states == dict.fromkeys(result.states, "failed") | {
        unshipped.Total().task_id: "upstream_failed"  # not tried: its upstream failed
    }
    (error,) = {id(e): e for e in result.errors.values()}.values()  # one, shared by the 3
    assert isinstance(error, TaskError) and len(result.errors) == 3
    _assert_one_report(str(error), unshipped)
    (record,) = [r for r in caplog.records if r.name == "daskflow" and r.levelname == "ERROR"]
    _assert_one_report(record.getMessage(), unshipped)
    assert record.getMessage().count("Traceback") == 1

    caplog.clear()
    with pytest.raises(RuntimeError) as info:
        flow.run(scheduler=client, execution_summary=False)
    assert isinstance(info.value.__cause__, TaskError)
    _assert_one_report(str(info.value.__cause__), unshipped)
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []  # all in the cause


def test_cli_names_the_unimportable_module_once_and_its_path_form_ships_it(
    cluster, unshipped, tmp_path
):
    folder = Path(unshipped.__file__).parent
    command = [sys.executable, "-m", "daskflow", "run", "--scheduler", cluster.scheduler_address]
    command += ["--dir", str(tmp_path / "data"), "--quiet"]
    by_name = subprocess.run(
        [*command[:4], f"{unshipped.__name__}:Total", *command[4:]],
        cwd=folder,  # importable here by name, not on the workers
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert by_name.returncode == 1
    errors = [line for line in by_name.stderr.splitlines() if line.startswith("error: ")]
    (line,) = errors
    assert line.startswith("error: 3 tasks failed: TaskError: 3 tasks could not be unpickled")
    assert by_name.stderr.count("Traceback") == 1
    by_path = subprocess.run(
        [*command[:4], f"{unshipped.__file__}:Total", *command[4:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert by_path.returncode == 0, by_path.stderr
    assert unshipped.Total().outputLoad() == 3


# -- a worker that dies ----------------------------------------------------------------------


def _die_on_first_attempt(name):
    marker = Path(os.fspath(daskflow.settings.dirpath)) / f".{name}-died"
    record(f"{name} attempt")
    if not marker.exists():
        marker.touch()
        os._exit(1)


class Before(TaskPickle):
    def run(self):
        record(repr(self))
        self.save(where())


@daskflow.requires(Before)
class DiesOnce(TaskPickle):
    def run(self):
        _die_on_first_attempt("DiesOnce")
        self.save({"before": self.inputLoad(), **where()})


@daskflow.requires(DiesOnce)
class AfterDeath(TaskPickle):
    def run(self):
        record(repr(self))
        self.save(self.inputLoad())


def test_worker_killed_during_a_task_does_not_fail_the_flow(one_worker_cluster):
    client = one_worker_cluster
    daskflow.Workflow(Before).run(scheduler=client, execution_summary=False)
    first_pid = Before().outputLoad()["pid"]

    result = daskflow.Workflow(AfterDeath).run(scheduler=client, execution_summary=False)
    assert result.status == "SUCCESS"
    assert records() == ["Before()", "DiesOnce attempt", "DiesOnce attempt", "AfterDeath()"]
    out = AfterDeath().outputLoad()
    assert out["pid"] != first_pid  # the worker that ran Before died and was replaced
    assert out["pid"] in set(client.run(os.getpid).values())
    assert out["before"]["pid"] == first_pid


class CommittedFirst(TaskPickle):
    def run(self):
        record(repr(self))
        self.save(where())


@daskflow.requires(CommittedFirst)
class DiesAfterIt(TaskPickle):
    def run(self):
        _die_on_first_attempt("DiesAfterIt")
        self.save(self.inputLoad())


def test_output_committed_earlier_in_the_run_is_not_recomputed_after_a_worker_dies(
    one_worker_cluster,
):
    # CommittedFirst runs and commits its file, then DiesAfterIt kills the only worker,
    # which held CommittedFirst's Dask result. Its output is in storage: it must not run again.
    result = daskflow.Workflow(DiesAfterIt).run(
        scheduler=one_worker_cluster, execution_summary=False
    )
    assert result.status == "SUCCESS"
    assert records().count("DiesAfterIt attempt") == 2
    assert records().count("CommittedFirst()") == 1, records()


def test_a_forced_task_committed_earlier_in_the_run_is_not_recomputed_after_a_worker_dies(
    one_worker_cluster,
):
    # as above, but CommittedFirst's output was there before the run (forced): its existence
    # says nothing, so the run's commit record in the scheduler does
    daskflow.Workflow(CommittedFirst).run(scheduler="sync", execution_summary=False)
    result = daskflow.Workflow(DiesAfterIt).run(
        scheduler=one_worker_cluster, forced_all_upstream=True, execution_summary=False
    )
    assert result.status == "SUCCESS"
    assert records().count("DiesAfterIt attempt") == 2
    assert records().count("CommittedFirst()") == 2, records()  # the sync run, then once


# -- resources -------------------------------------------------------------------------------


@pytest.fixture
def gpu_worker(cluster, client):
    """A third worker process, the only one with the resource GPU=1; gone afterwards."""

    async def start():
        return await Nanny(cluster.scheduler_address, nthreads=1, resources={"GPU": 1})

    nanny = client.sync(start)
    try:
        client.wait_for_workers(3, timeout=60)
        yield nanny.worker_address
    finally:
        client.sync(nanny.close)


class NeedsGPU(TaskPickle):
    i = daskflow.IntParameter()
    resources = {"GPU": 1}  # noqa: RUF012 (a class attribute, as users write it)

    def run(self):
        self.save(where())


class GPUJoin(TaskPickle):
    def requires(self):
        return [NeedsGPU(i=i) for i in range(4)]

    def run(self):
        self.save([*self.inputLoad(), where()])


def test_task_with_resources_runs_only_on_a_worker_that_has_them(client, gpu_worker):
    daskflow.Workflow(GPUJoin).run(scheduler=client, execution_summary=False)
    *gpu, _ = GPUJoin().outputLoad()
    assert {r["worker"] for r in gpu} == {gpu_worker}


class GPUFan(TaskPickle):
    def requires(self):
        return [NeedsGPU(i=i) for i in range(100, 120)]

    def run(self):
        self.save([*self.inputLoad(), where()])


def test_batches_of_tasks_with_resources_run_only_where_they_are(
    client, gpu_worker, absolute_data_dir
):
    # the probes go first; the batches after them are a graph sent later, annotated with the
    # resources and linked to the futures of what was sent before
    daskflow.settings.batch_seconds = 10.0  # (tiny tasks batch, however loaded the machine)
    daskflow.Workflow(GPUFan).run(scheduler=client, execution_summary=False)
    *gpu, _ = GPUFan().outputLoad()
    assert len(gpu) == 20 and {r["worker"] for r in gpu} == {gpu_worker}
    keys = [json.loads(p.read_text())["dask_key"] for p in absolute_data_dir.rglob("*.manifest")]
    assert any(k.startswith("NeedsGPU-batch-") for k in keys), keys


# -- two clients at once ---------------------------------------------------------------------


class Slow(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        record(repr(self))
        time.sleep(0.3)
        self.save(pd.DataFrame({"i": [self.i] * 100_000, "v": range(100_000)}))


class SlowJoin(TaskPickle):
    def requires(self):
        return [Slow(i=i) for i in range(4)]

    def run(self):
        record(repr(self))
        self.save([int(df["v"].sum()) + int(df["i"].sum()) for df in self.inputLoad()])


def test_two_clients_run_the_same_flow_at_the_same_time(cluster, client):
    barrier = threading.Barrier(2)
    statuses, errors = [], []

    def run(c):
        try:
            barrier.wait(timeout=30)
            result = daskflow.Workflow(SlowJoin).run(scheduler=c, execution_summary=False)
            statuses.append(result.status)
        except BaseException as e:
            errors.append(e)

    with Client(cluster, set_as_default=False) as other:
        threads = [threading.Thread(target=run, args=(c,)) for c in (client, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors
    assert statuses == ["SUCCESS", "SUCCESS"]
    total = sum(range(100_000))
    assert SlowJoin().outputLoad() == [total + i * 100_000 for i in range(4)]
    for i in range(4):
        frame = Slow(i=i).outputLoad()
        assert len(frame) == 100_000 and set(frame["i"]) == {i}
    leftovers = [p for p in Path(os.fspath(daskflow.settings.dirpath)).rglob(".*.tmp")]
    assert leftovers == []
    # each task ran once, by one of the two runs (leases): the other waited and skipped it
    assert sorted(records()) == sorted([*(f"Slow(i={i})" for i in range(4)), "SlowJoin()"])


# -- an unreachable scheduler ----------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_cluster_error_naming_the_address():
    address = f"tcp://127.0.0.1:{_free_port()}"
    daskflow.settings.connect_timeout = 2
    start = time.monotonic()
    with pytest.raises(ClusterError) as info:
        daskflow.Workflow(Join).run(scheduler=address, execution_summary=False)
    assert time.monotonic() - start < 30
    assert address in str(info.value)
    assert records() == []


@contextlib.contextmanager
def _silent_server(http: bool):
    """A port that accepts connections and never answers (or answers as an HTTP server)."""
    import http.server

    if http:
        server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"tcp://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
        return
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("http", [False, True], ids=["silent socket", "http server"])
def test_scheduler_address_that_never_answers_fails_within_the_timeout(http):
    daskflow.settings.connect_timeout = 2
    with _silent_server(http) as address:
        start = time.monotonic()
        with pytest.raises(ClusterError) as info:
            daskflow.Workflow(Join).run(scheduler=address, execution_summary=False)
        assert time.monotonic() - start < 15
    assert address in str(info.value) and "within 2 s" in str(info.value)
    assert records() == []


# -- a cluster of separate dask scheduler / dask worker processes ----------------------------


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def external_cluster(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1.

    The workers import the tasks by name: cloudpickle sends classes of an importable module
    (``parallel_tasks``) by reference, so the workers get the tests folder on PYTHONPATH.
    (``cloudpickle.register_pickle_by_value`` would work too, but it changes how every
    later test in this process pickles that module.)
    """
    logs = tmp_path_factory.mktemp("external-cluster")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p
    )
    dask_cli = [sys.executable, "-m", "dask"]
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = ["worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1"]
    worker.append("--no-dashboard")
    commands = [[*dask_cli, *scheduler], [*dask_cli, *worker], [*dask_cli, *worker]]
    procs = []
    try:
        for i, command in enumerate(commands):
            log = open(logs / f"process-{i}.log", "w")  # noqa: SIM115 (closed below)
            with log:
                procs.append(
                    subprocess.Popen(
                        command, env=env, cwd=logs, stdout=log, stderr=subprocess.STDOUT
                    )
                )
        with Client(address, timeout=60, set_as_default=False) as c:
            c.wait_for_workers(2, timeout=60)
            pids = set(c.run(os.getpid).values())
            addresses = set(c.scheduler_info()["workers"])
        yield {"address": address, "pids": pids, "workers": addresses}
    finally:
        _stop(procs[1:])  # the workers first, then the scheduler
        _stop(procs[:1])


def test_quickstart_pipeline_on_separate_processes(external_cluster):
    flow = daskflow.Workflow(Train, {"do_preprocess": False})
    result = flow.run(scheduler=external_cluster["address"], execution_summary=False)
    assert result.status == "SUCCESS"
    model = flow.outputLoad()
    assert model["slope"] == pytest.approx(2.0) and model["intercept"] == pytest.approx(1.0)
    assert {model["pid"], model["preprocess_pid"]} <= external_cluster["pids"]
    assert model["worker"] in external_cluster["workers"]
    preprocessed = flow.outputLoad(Preprocess)  # in memory, brought back to the caller
    assert len(preprocessed) == 100
    assert flow.complete() and flow.complete(GetData)
    assert records() == [
        "GetData()",
        "Preprocess(do_preprocess=False)",
        "Train(do_preprocess=False)",
    ]


def test_fan_out_on_separate_processes(external_cluster):
    result = daskflow.Workflow(Fan, {"n": 4, "together": 2}).run(
        scheduler=external_cluster["address"], execution_summary=False
    )
    assert result.status == "SUCCESS"
    out = Fan(n=4, together=2).outputLoad()
    assert [leaf["i"] for leaf in out["leaves"]] == [0, 1, 2, 3]
    pids = {leaf["pid"] for leaf in out["leaves"]}
    assert pids == external_cluster["pids"], "the leaves did not use both workers"


# -- progress and summary with a cluster -----------------------------------------------------


def test_progress_names_the_cluster_and_its_dashboard(client, capsys):
    daskflow.Workflow(Join).run(scheduler=client)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("[daskflow]")]
    assert lines[0].startswith("[daskflow] running 3 tasks on ")
    assert f"(dashboard: {client.dashboard_link})" in lines[0]
    assert lines[-1] == "[daskflow] 3/3 tasks done: Branch 2/2, Join 1/1"


# -- two runs of different roots at once on one cluster -------------------------------------


class SlowOut(TaskPickle):
    def run(self):
        time.sleep(0.5)
        self.save(os.getpid())


def test_two_runs_with_different_roots_on_one_cluster_each_write_their_own(client, tmp_path):
    results = {}

    def run(env):
        flow = daskflow.Workflow(SlowOut, path=str(tmp_path / env))
        results[env] = flow.run(scheduler=client, execution_summary=False)

    threads = [threading.Thread(target=run, args=(env,)) for env in ("dev", "prod")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [results[e].status for e in ("dev", "prod")] == ["SUCCESS", "SUCCESS"]
    for env in ("dev", "prod"):
        assert daskflow.Workflow(SlowOut, path=str(tmp_path / env)).complete(), env


def test_scheduler_lost_mid_run_is_an_error_on_the_result(tmp_path):
    """A scheduler killed while tasks run: the run ends (within the client's reconnect
    window, the connect timeout) with a ClusterError for the tasks it could not finish;
    abort=False returns the result, as for any failed task."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR), "RUNS": str(runs), "FLOW_HANG": "6"}
    dask_cli = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp_path}
    scheduler = subprocess.Popen(
        [*dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        **quiet,
    )
    worker = subprocess.Popen(
        [*dask_cli, "worker", address, "--nthreads", "1", "--no-dashboard"], env=env, **quiet
    )
    try:
        with Client(address, timeout=60, set_as_default=False) as c:
            c.wait_for_workers(1, timeout=60)
        import concurrent_flow

        daskflow.settings.connect_timeout = 3

        def kill_when_a_task_runs():
            deadline = time.monotonic() + 60
            while not runs.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            scheduler.kill()

        killer = threading.Thread(target=kill_when_a_task_runs, daemon=True)
        killer.start()
        start = time.monotonic()
        result = daskflow.Workflow(concurrent_flow.Sleepers).run(
            scheduler=address, abort=False, execution_summary=False
        )
        assert time.monotonic() - start < 60
        assert result.status == "FAILED"
        errors = list(result.errors.values())
        assert errors and all(isinstance(e, ClusterError) for e in errors), errors
        assert f"lost the Dask scheduler at {address}" in str(errors[0])
        assert result.states[concurrent_flow.Sleepers().task_id] == "upstream_failed"
        for text in result.error_texts.values():  # the one message, no Dask tracebacks
            assert "CancelledError" not in text and len(text.splitlines()) <= 2, text
    finally:
        _stop([worker, scheduler])


def test_code_mode_on_a_cluster_manifests_from_workers_make_the_rerun_a_no_op(client):
    daskflow.settings.invalidation = "code"
    flow = daskflow.Workflow(Join)
    assert flow.run(scheduler=client, execution_summary=False).status == "SUCCESS"
    ran = len(records())
    folder = Path(os.fspath(daskflow.settings.dirpath)) / ".manifests" / "Join"
    (manifest,) = folder.iterdir()
    content = json.loads(manifest.read_text())
    assert content["dask_key"].startswith("Join-Join__") and "@" in content["dask_key"]
    assert content["pid"] != os.getpid()  # written on a worker
    assert flow.complete()
    flow.run(scheduler=client, execution_summary=False)
    assert len(records()) == ran  # nothing ran again


def test_the_dashboard_link_of_a_run_opens_the_dashboard(client):
    """The link progress prints serves Dask's status page (bokeh comes with the test and
    cluster extras), not "Dask needs bokeh"."""
    import urllib.request

    from daskflow.clusters import _describe_client

    where = _describe_client(client, None)
    link = client.dashboard_link
    assert link and f"(dashboard: {link})" in where
    with urllib.request.urlopen(link, timeout=30) as page:
        body = page.read().decode(errors="replace")
    assert page.status == 200 and "needs bokeh" not in body and "Dask" in body


class Square(TaskPickle):
    x = daskflow.IntParameter()

    def run(self):
        self.save(self.x * self.x)


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("tcp//127.0.0.1:8786", "did you mean 'tcp://127.0.0.1:8786'"),
        ("127.0.0.l:8786", "'127.0.0.l' is not an IPv4 address"),
        ("tcp://127.0.0.1:99999", "the port '99999' is not a number from 1 to 65535"),
        ("udp://127.0.0.1:8786", "unknown protocol 'udp'"),
        ("tcp://user:s3cr/et@127.0.0.1:0", "port '0'"),
    ],
)
def test_a_malformed_address_is_refused_at_once_naming_the_fault(address, says):
    start = time.monotonic()
    with pytest.raises(ClusterError) as info:
        daskflow.Workflow(Square, {"x": 1}).run(scheduler=address, execution_summary=False)
    assert says in str(info.value) and "s3cr" not in str(info.value)
    assert time.monotonic() - start < 5  # no connection tried, no timeout waited


def test_a_port_that_speaks_first_is_not_taken_for_a_scheduler():
    """A service that greets first (an SSH server's banner) gives a clear error, not a
    2.82 EiB MemoryError from reading its banner as a frame length."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def banner():
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" * 4)
            time.sleep(3)
            conn.close()

    thread = threading.Thread(target=banner, daemon=True)
    thread.start()
    daskflow.settings.connect_timeout = 2
    try:
        with pytest.raises(ClusterError) as info:
            daskflow.Workflow(Square, {"x": 1}).run(
                scheduler=f"tcp://127.0.0.1:{port}", execution_summary=False
            )
    finally:
        server.close()
        thread.join(timeout=10)
    text = str(info.value)
    assert "not as a Dask scheduler" in text and "EiB" not in text, text


def test_a_cluster_without_workers_fails_within_worker_wait():
    from distributed import Client, LocalCluster

    daskflow.settings.worker_wait = 1
    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty,
        Client(empty, set_as_default=False) as client,
    ):
        start = time.monotonic()
        result = daskflow.Workflow(Square, {"x": 2}).run(
            scheduler=client, execution_summary=False, abort=False
        )
        assert time.monotonic() - start < 20
    error = next(iter(result.errors.values()))
    assert "has no workers" in str(error) and "settings.worker_wait" in str(error)


class NeedsAGPU(TaskPickle):
    resources = {"GPU": 1}  # noqa: RUF012

    def run(self):
        self.save(1)


def test_a_task_no_worker_can_run_fails_naming_the_resource(client):
    daskflow.settings.worker_wait = 0.5
    start = time.monotonic()
    result = daskflow.Workflow(NeedsAGPU).run(
        scheduler=client, execution_summary=False, abort=False
    )
    assert time.monotonic() - start < 20
    text = str(result.errors[NeedsAGPU().task_id])
    assert "GPU=1" in text and "offer: none" in text and "--resources" in text


def test_a_dask_without_graph_expressions_still_runs_the_flow(client, monkeypatch):
    """The cluster path names its graph through dask._expr, which is private; a Dask without
    it (older, or newer and renamed) runs the same flow with the plain graph."""
    from daskflow import clusters

    monkeypatch.setattr(clusters, "_unnamed", lambda dsk: dsk)  # what the fallback hands on
    result = daskflow.Workflow(Square, {"x": 7}).run(scheduler=client, execution_summary=False)
    assert result.status == "SUCCESS" and Square(x=7).outputLoad() == 49
