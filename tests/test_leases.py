"""Leases: concurrent runs on one root compute each task once and never mix their outputs;
a dead holder's lease is taken over and its leftovers removed; every wait is bounded.

The concurrent runs are real processes (``concurrent_flow.py``) started together on one
root, on local disk and on a real S3 server (moto); each task records its runs in a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
from helpers import is_manifest

import daskflow
from daskflow import leases, settings
from daskflow.leases import LeaseError
from daskflow.targets import exclusive
from daskflow.targets import leftovers as leftover_files
from daskflow.tasks import TaskPickle

FLOW = str(Path(__file__).with_name("concurrent_flow.py"))
TASKS = ["Leaf0", "Leaf1", "Leaf2", "Multi", "Dataset", "Top"]


def _start(root: str, label: str, runs: Path, *extra: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, FLOW, root, label, *extra],
        env={**os.environ, "RUNS": str(runs), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen, timeout: float = 120) -> dict:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"a run did not end within {timeout} s:\n{err[-3000:]}")
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _runs(path: Path) -> Counter:
    return Counter(line.split(":")[0] for line in path.read_text().splitlines())


def _storage(where: str, request) -> tuple[str, list[str], object]:
    """The root, the extra arguments for concurrent_flow.py, and a way to read outputs."""
    if where == "local":
        return str(Path("root").absolute()), [], None
    s3 = request.getfixturevalue("s3")
    return s3.url, ["--storage", json.dumps(settings.storage_options)], s3


def _multi_labels(root: str, s3) -> set:
    names = "abcdef"
    if s3 is None:
        folder = Path(root) / "Multi"
        return {pickle.loads((folder / f"Multi__99914b932b-{n}.pkl").read_bytes()) for n in names}
    return {
        pickle.loads(s3.fs.cat_file(f"{root[5:]}/Multi/Multi__99914b932b-{n}.pkl")) for n in names
    }


def _dataset_labels(root: str, s3) -> set:
    url = f"{root}/Dataset/Dataset__99914b932b-data.parquet"
    options = {} if s3 is None else settings.storage_options
    if s3 is not None:  # what this process listed before another one rewrote it is stale
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
    frame = pd.read_parquet(url, storage_options=options or None)
    assert len(frame) == 40
    return set(frame["label"])


@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_runs_at_once_compute_each_task_once(where, request, tmp_path):
    root, extra, s3 = _storage(where, request)
    runs = tmp_path / "runs"
    first, second = (_start(root, label, runs, *extra) for label in ("P1", "P2"))
    results = [_finish(first), _finish(second)]
    assert all(r["status"] == "SUCCESS" for r in results), results
    assert _runs(runs) == Counter(TASKS), runs.read_text()  # each task once, whoever ran it
    for r in results:  # the other run's tasks count as complete in each result
        assert set(r["states"].values()) <= {"ran", "complete"}
    assert len(_multi_labels(root, s3)) == 1  # six outputs of one run, never a mix
    assert len(_dataset_labels(root, s3)) == 1
    assert not _leases_left(root, s3)


def test_runs_at_once_on_stale_outputs_remake_each_task_once(tmp_path):
    """Under "code", four processes that start together on outputs whose code changed
    remake each task once between them: the lease dedupes stale outputs too."""
    root, runs = str(Path("root").absolute()), tmp_path / "runs"
    _finish(_start(root, "P0", runs, DASKFLOW_INVALIDATION="code"))
    assert _runs(runs) == Counter(TASKS)
    runs.unlink()
    edited = {"DASKFLOW_INVALIDATION": "code", "FLOW_EPOCH": "2"}
    started = [_start(root, f"P{n}", runs, **edited) for n in range(1, 5)]
    results = [_finish(p, timeout=240) for p in started]
    assert all(r["status"] == "SUCCESS" for r in results), results
    assert _runs(runs) == Counter(TASKS), runs.read_text()  # each task once more, not 4 times
    assert len(_multi_labels(root, None)) == 1


def _leases_left(root: str, s3) -> list[str]:
    if s3 is None:
        return [str(p) for p in Path(root).rglob("*.lease*")]
    return [p for p in s3.fs.find(root[5:]) if ".lease" in p]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_concurrent_forced_runs_never_fail_or_mix(where, request, tmp_path):
    root, extra, s3 = _storage(where, request)
    runs = tmp_path / "runs"
    _finish(_start(root, "P0", runs, *extra))
    runs.unlink()
    for _ in range(2):
        a, b = (_start(root, label, runs, *extra, "--force") for label in ("P1", "P2"))
        results = [_finish(a), _finish(b)]
        assert all(r["status"] == "SUCCESS" for r in results), results
        assert len(_multi_labels(root, s3)) == 1
        assert len(_dataset_labels(root, s3)) == 1
    counts = _runs(runs)
    assert set(counts) == {"Multi", "Dataset", "Top"}  # the leaves were never forced
    assert all(n <= 4 for n in counts.values()), counts  # at most once per run, never at once


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"{what} within {timeout} s")


@pytest.mark.parametrize("where", ["local", "s3"])
def test_killed_holder_is_taken_over_at_once_and_its_temporaries_removed(where, request, tmp_path):
    root, extra, s3 = _storage(where, request)
    runs = tmp_path / "runs"
    holder = _start(root, "P1", runs, "--hang", *extra)
    staged = f"daskflow-{holder.pid}-"  # on S3, a save is staged in the system temp folder

    def leftovers() -> list[str]:
        if s3 is None:
            return [p.name for p in (Path(root) / "Hang").glob(".Hang__*.tmp")]
        return [p for p in os.listdir(tempfile.gettempdir()) if p.startswith(staged)]

    try:
        _wait_for(leftovers, 60, "the holder staged no save")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=30)
    assert [p for p in _listing(root, s3) if p.endswith(".lease")], "no lease left behind"
    sys.path.insert(0, str(Path(FLOW).parent))
    try:
        import concurrent_flow
    finally:
        sys.path.pop(0)
    daskflow.set_dir(root)
    start = time.monotonic()
    os.environ["RUNS"], os.environ["FLOW_HANG"] = str(runs), "0"
    time.sleep(5)  # the system temp folder is swept of what is at least 5 s old
    leftover_files._SWEPT[0] = 0.0  # (and at most once a minute: an earlier test may have swept)
    try:
        result = daskflow.Workflow(concurrent_flow.Hang).run(execution_summary=False)
    finally:
        del os.environ["RUNS"], os.environ["FLOW_HANG"]
    assert result.status == "SUCCESS"
    assert time.monotonic() - start < 30  # no waiting for the lease to expire
    assert _runs(runs) == Counter({"Hang": 2})
    assert _listing(root, s3) == ["Hang__99914b932b-data.pkl"]
    assert leftovers() == []


def _listing(root: str, s3) -> list[str]:
    if s3 is None:
        paths = [str(p) for p in (Path(root) / "Hang").iterdir()]
    else:
        paths = s3.fs.find(f"{root[5:]}/Hang")
    return sorted(p.rsplit("/", 1)[-1] for p in paths if not is_manifest(p))


class Leased(TaskPickle):
    def run(self):
        self.save("made here")


def _fake_lease(task: TaskPickle, host: str, pid: int, expires: float, s3=None):
    """Write a lease of another run on ``task``; a function that says if it is still there."""
    holder = leases.Holder(task.task_id, "other-run", host, pid, time.time(), expires, "f00d")
    url = f"{task.output().folder}/.{task.task_id}.lease"
    if s3 is not None:
        s3.fs.pipe_file(url[5:], holder.text())
        return lambda: s3.fs.exists(url[5:])
    path = Path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(holder.text())
    return path.exists


HOLDER = """
import fcntl, json, os, sys, time
path, holder = sys.argv[1], json.loads(sys.argv[2])
holder["pid"] = os.getpid()
fd = os.open(path + ".new", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, json.dumps(holder, sort_keys=True).encode())
fcntl.flock(fd, fcntl.LOCK_EX)  # as a live holder: locked for as long as it runs
os.rename(path + ".new", path)
print("holding", flush=True)
time.sleep(60)
"""


def _holder_process(task: TaskPickle, s3=None) -> subprocess.Popen:
    """A live process of this machine that holds ``task``'s lease (the lease names it)."""
    if s3 is not None:
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        _fake_lease(task, socket.gethostname(), sleeper.pid, time.time() + 600, s3)
        return sleeper
    path = Path(f"{task.output().folder}/.{task.task_id}.lease")
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = leases.Holder(task.task_id, "other-run", socket.gethostname(), 0, 0, 0, "f00d")
    text = json.dumps(vars(holder))
    sleeper = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), text], stdout=subprocess.PIPE, text=True
    )
    assert sleeper.stdout is not None and sleeper.stdout.readline() == "holding\n"
    return sleeper


@pytest.mark.parametrize("where", ["local", "s3"])
def test_live_lease_is_waited_for_within_the_bound_and_names_its_holder(where, request):
    s3 = _storage(where, request)[2]
    sleeper = _holder_process(Leased(), s3)
    try:
        settings.lease_wait = 0.5
        start = time.monotonic()
        result = daskflow.Workflow(Leased).run(execution_summary=False, abort=False)
        assert time.monotonic() - start < 10
        error = result.errors[Leased().task_id]
        assert isinstance(error, LeaseError)
        assert f"pid {sleeper.pid}" in str(error) and "other-run" in str(error)
        assert "settings.lease_wait" in str(error)
        assert not Leased().complete()
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_expired_lease_of_another_machine_is_taken_over(where, request):
    s3 = _storage(where, request)[2]
    there = _fake_lease(Leased(), "elsewhere.example", 1, time.time() - 1, s3)
    settings.lease_ttl = 0.5  # (a lease unchanged for this long, by the waiter's clock)
    result = daskflow.Workflow(Leased).run(execution_summary=False)
    assert result.status == "SUCCESS" and Leased().outputLoad() == "made here"
    assert not there()


@pytest.mark.parametrize("where", ["local", "s3"])
def test_live_lease_of_another_machine_is_waited_for(where, request):
    s3 = _storage(where, request)[2]
    _fake_lease(Leased(), "elsewhere.example", 1, time.time() + 600, s3)
    settings.lease_wait = 0.3
    result = daskflow.Workflow(Leased).run(execution_summary=False, abort=False)
    assert "elsewhere.example" in str(result.errors[Leased().task_id])


def test_complete_tasks_take_no_lease(monkeypatch):
    daskflow.Workflow(Leased).run(execution_summary=False)
    calls = []
    monkeypatch.setattr(leases, "take", lambda *a, **k: calls.append(a))
    daskflow.Workflow(Leased).run(execution_summary=False)
    assert calls == []


def test_leases_can_be_turned_off(monkeypatch):
    settings.leases = False
    made = []
    create = exclusive.LocalStore.create
    monkeypatch.setattr(
        exclusive.LocalStore, "create", lambda self, raw: made.append(1) or create(self, raw)
    )
    daskflow.Workflow(Leased).run(execution_summary=False)
    assert Leased().complete() and made == []


class LongName(TaskPickle):
    persist: ClassVar[list[str]] = ["x" * 230]

    def run(self):
        self.save({"x" * 230: 1})


def test_output_names_near_the_limit_save_and_lease():
    # the output's own name is legal; its temporary and lease names must stay legal too
    result = daskflow.Workflow(LongName).run(execution_summary=False)
    assert result.status == "SUCCESS"
    assert len(Path(LongName().output()["x" * 230].path).name) > 240
    assert LongName().complete()


class LongId(TaskPickle):
    a = daskflow.Parameter()
    b = daskflow.Parameter()
    c = daskflow.Parameter()
    d = daskflow.Parameter()

    def run(self):
        self.save(1)


def test_a_task_id_near_the_name_limit_takes_its_lease(tmp_path):
    """The lease of a task whose id is near the file-name limit is written first to a
    sibling ``{lease}.{8 hex}``: that name must be legal too."""
    task = LongId(a="a" * 55, b="b" * 55, c="c" * 55, d="d" * 55)  # its output name: 250
    assert len(f".{task.task_id}.lease") > 255 - 9
    lease = leases.take(task.task_id, task.own_targets())
    assert isinstance(lease, leases.Lease)
    lease.release()
    assert daskflow.Workflow(LongId, task.param_kwargs).run(execution_summary=False).status == (
        "SUCCESS"
    )


@pytest.mark.parametrize("scheduler", [None, "processes"], ids=["default", "processes"])
def test_local_workers_exit_when_their_caller_is_killed(scheduler, tmp_path):
    runs = tmp_path / "runs"
    chosen = ["--scheduler", scheduler] if scheduler else []
    driver = _start(str(Path("root").absolute()), "P1", runs, "--sleepers", *chosen)
    try:

        def workers() -> set[int]:
            assert driver.poll() is None, driver.communicate()[1][-2000:]
            pids = {int(line.split(":")[0].split("-")[1]) for line in _lines(runs)}
            return pids - {driver.pid}

        found = _wait_for(workers, 60, "no task reached a worker process")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=30)
    try:
        _wait_for(lambda: not any(_alive(p) for p in found), 10, f"workers {found} still run")
    finally:
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie (not yet reaped by init) has exited
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_store_is_exclusive_and_swaps_only_what_it_read(where, request):
    s3 = _storage(where, request)[2]
    target = Leased().output()
    store = exclusive.store_beside(target, ".x.lease")
    assert store.create(b"one") and not store.create(b"two")
    assert store.read() == b"one"
    assert store.swap(b"one", b"three") and store.read() == b"three"
    assert not store.swap(b"one", b"four")  # somebody else's since: left alone
    assert store.read() == b"three"
    assert not store.renew(b"one", b"five") and store.renew(b"three", b"six")
    store.delete(b"three")  # not what it holds: kept
    assert store.read() == b"six"
    store.delete(b"six")
    assert store.read() is None and store.create(b"seven")
    if s3 is not None:
        assert isinstance(store, exclusive.S3Store)


@pytest.mark.parametrize("renewed", [False, True])
def test_a_published_lease_becomes_the_file_with_exactly_its_content(renewed):
    # the lease file stays open from its create to its publish; a renewal replaces the file,
    # and the content must still land in the file that is renamed into place
    task = Leased()
    lease = leases.take(task.task_id, task.own_targets())
    assert isinstance(lease, leases.Lease)
    lease_path = Path(lease.store.path)
    if renewed:
        lease.renew(60)
        assert _holder_of(lease_path).expires == lease.holder.expires
    dest = lease_path.with_name("published")
    assert lease.publish(str(dest), b"short")  # shorter than the lease: nothing of it stays
    assert dest.read_bytes() == b"short" and not lease_path.exists()
    assert lease.store.fd is None
    lease.release()  # after publishing: nothing to do, and no error
    assert dest.read_bytes() == b"short"


def test_a_released_lease_closes_its_file_and_is_gone():
    task = Leased()
    lease = leases.take(task.task_id, task.own_targets())
    assert isinstance(lease, leases.Lease) and lease.store.fd is not None
    lease.release()
    assert lease.store.fd is None and not Path(lease.store.path).exists()


def _holder_of(path: Path) -> leases.Holder:
    holder = leases.Holder.parse(path.read_bytes())
    assert holder is not None
    return holder


def test_reset_removes_the_temporaries_a_killed_writer_left():
    daskflow.Workflow(Leased).run(execution_summary=False)
    output = Path(Leased().output().path)
    name = output.name
    left = [output.parent / f".{name}.0123456789abcde.tmp", output.parent / f".{name}.f00d-1.tmp"]
    left[0].write_bytes(b"half a pickle")
    left[1].mkdir()  # a DataTarget's temporary folder
    (left[1] / name).write_bytes(b"half")
    other = output.parent / f".{name}2.0123456789abcde.tmp"  # another output's, same folder
    other.write_bytes(b"another output's")
    Leased().reset()
    assert not output.exists() and not any(p.exists() for p in left)
    assert other.exists()  # only the reset task's own


# -- what a hostile world does to leases -------------------------------------------------------


def test_racers_on_a_dead_lease_never_both_hold_it(tmp_path):
    """8 processes race for each of 2,000 dead leases (empty ones and cut-short renewals
    among them); exactly one wins each, at once."""
    racers = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("lease_racers.py")),
            str(tmp_path),
            "8",
            "2000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert racers.returncode == 0, racers.stderr[-3000:]
    result = json.loads(racers.stdout.strip().splitlines()[-1])
    assert result == {"trials": 2000, "double": {}, "nobody": []}


def test_an_error_after_the_lease_is_made_releases_it(monkeypatch):
    task = Leased()

    def broken(targets):
        raise OSError("the disk went away")

    monkeypatch.setattr(leases, "_stamps", broken)
    with pytest.raises(OSError, match="the disk went away"):
        leases.take(task.task_id, task.own_targets(), fresh=True)
    assert not Path(task.output().folder, f".{task.task_id}.lease").exists()
    assert leases._renewer.leases == {}
    monkeypatch.undo()
    assert isinstance(leases.take(task.task_id, task.own_targets()), leases.Lease)


@pytest.mark.parametrize("name", ["lease_ttl", "lease_wait", "connect_timeout"])
@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), "soon", None, True])
def test_durations_are_checked_when_set(name, value):
    with pytest.raises(daskflow.errors.SettingsError, match=rf"settings\.{name} must be"):
        setattr(settings, name, value)


def test_lease_ttl_zero_is_refused_and_lease_wait_zero_means_do_not_wait():
    with pytest.raises(daskflow.errors.SettingsError, match="more than 0"):
        settings.lease_ttl = 0
    settings.lease_wait = 0
    assert settings.lease_wait == 0.0


def _dead_lease(task: TaskPickle) -> tuple[Path, Path]:
    """A lease its holder left when it was killed (its lock gone), and a temporary of a lease
    write cut short beside it, a minute old."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    holder = leases.Holder(
        task.task_id, "killed", socket.gethostname(), int(done.stdout), 0, 9e9, "dead"
    )
    lease = Path(task.output().folder, f".{task.task_id}.lease")
    lease.parent.mkdir(parents=True, exist_ok=True)
    lease.write_bytes(holder.text())
    cut = lease.with_name(lease.name + ".0a1b2c3d")
    cut.write_bytes(holder.text())
    os.utime(cut, (time.time() - 60, time.time() - 60))
    return lease, cut


def test_reset_and_gc_clean_what_a_holder_killed_after_its_commit_left(tmp_path):
    from daskflow.explain import garbage
    from daskflow.graph import build, plan

    daskflow.Workflow(Leased).run(execution_summary=False)
    lease, cut = _dead_lease(Leased())
    listed = {p for p, _ in garbage(plan(build([Leased()])), str(Path("data").absolute()), {})}
    assert listed == {str(lease.absolute()), str(cut.absolute())}
    assert Leased().complete()
    Leased().reset()
    assert not lease.exists() and not cut.exists()


def test_the_next_run_removes_a_dead_lease_and_its_cut_short_writes():
    lease, cut = _dead_lease(Leased())
    daskflow.Workflow(Leased).run(execution_summary=False)
    assert Leased().outputLoad() == "made here"
    assert not lease.exists() and not cut.exists()


def test_a_holder_whose_clock_is_behind_is_not_taken_over_while_it_renews(s3):
    """Another machine's lease says it expired an hour ago (its clock is behind), but it
    changes every 0.1 s: a waiter judges by its own clock since the lease last changed."""
    import threading

    task = Leased()
    stop = threading.Event()

    def renew():
        n = 0
        while not stop.is_set():
            n += 1
            _fake_lease(task, "elsewhere.example", n, time.time() - 3600, s3)
            stop.wait(0.1)

    renewer = threading.Thread(target=renew, daemon=True)
    renewer.start()
    try:
        settings.lease_ttl, settings.lease_wait = 1.0, 2.5
        result = daskflow.Workflow(Leased).run(execution_summary=False, abort=False)
        assert isinstance(result.errors[task.task_id], LeaseError)
    finally:
        stop.set()
        renewer.join(timeout=10)
    start = time.monotonic()  # the holder is gone: taken over a lease_ttl after its last change
    result = daskflow.Workflow(Leased).run(execution_summary=False)
    assert result.status == "SUCCESS" and Leased().outputLoad() == "made here"
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    "edited",
    [
        {"expires": "soon"},
        {"pid": "12"},
        {"pid": 2**70},
        {"since": float("inf")},
        {"task": None},
    ],
)
def test_a_hand_edited_lease_reads_as_unreadable_not_as_an_error(edited):
    holder = leases.Holder("T", "run", "host", 12, 1.0, 2.0, "tag")
    raw = json.dumps({**vars(holder), **edited}).encode()
    assert leases.Holder.parse(raw) is None
    assert leases.Holder.parse(holder.text()) == holder


def test_a_hand_edited_lease_on_s3_is_taken_over_after_lease_ttl(s3):
    task = Leased()
    url = f"{task.output().folder}/.{task.task_id}.lease"
    s3.fs.pipe_file(url[5:], json.dumps({"task": 1, "pid": "x", "expires": "soon"}).encode())
    settings.lease_ttl = 0.5
    result = daskflow.Workflow(Leased).run(execution_summary=False)
    assert result.status == "SUCCESS" and Leased().outputLoad() == "made here"


def test_an_endpoint_that_ignores_conditional_writes_is_found_and_named(s3):
    """Through a proxy that strips If-None-Match and If-Match (as some S3-compatible
    gateways do), the first lease probes the endpoint, warns once, and strict refuses."""
    from helpers import StrippingProxy

    from daskflow.targets.exclusive import S3Store

    with StrippingProxy(s3.endpoint) as proxy:
        settings.storage_options = {"client_kwargs": {"endpoint_url": proxy.endpoint}}
        with pytest.warns(UserWarning, match="ignores conditional writes"):
            result = daskflow.Workflow(Leased).run(execution_summary=False)
        assert result.status == "SUCCESS"
        assert not [k for k in s3.objects() if "daskflow-probe" in k]  # the probe is gone
        Leased().reset()
        settings.strict = True
        result = daskflow.Workflow(Leased).run(execution_summary=False, abort=False)
        assert "ignores conditional writes" in str(result.errors[Leased().task_id])
    settings.storage_options = dict(s3.storage_options)  # moto itself honours them
    daskflow.Workflow(Leased).run(execution_summary=False)  # (warnings are errors here)
    assert S3Store.probed[(s3.endpoint, s3.bucket)] is True
