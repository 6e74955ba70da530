"""Shared fixtures: every test runs in its own working directory with fresh settings."""

from __future__ import annotations

import contextlib
import copy

import pytest

import daskflow
from daskflow import settings

_SETTINGS = [name for name in settings.__all__ if name != "set_dir"]

HEAVY = {  # modules whose tests start servers, clusters or many processes
    "test_s3",
    "test_distributed",
    "test_leases",
    "test_parallel",
    "test_long_lived",
    "test_kill9",
    "test_get_conformance",
    "test_batching",
}


def pytest_collection_modifyitems(items):
    """Mark the tests of :data:`HEAVY` modules ``heavy``: ``-m "not slow and not heavy"``
    is the quick subset (the README says how long each takes)."""
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in HEAVY:
            item.add_marker(pytest.mark.heavy)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """chdir to ``tmp_path``; restore ``daskflow.settings`` and clear ``daskflow.data``
    afterwards, so relative ``data/`` outputs and in-memory outputs never leak between tests."""
    monkeypatch.chdir(tmp_path)
    saved = {name: copy.copy(getattr(settings, name)) for name in _SETTINGS}
    daskflow.data.clear()
    yield tmp_path
    for name, value in saved.items():
        setattr(settings, name, value)
    daskflow.data.clear()


@pytest.fixture(autouse=True)
def restore_format_registry():
    """Formats a test registers (or replaces) are gone afterwards."""
    from daskflow import formats

    saved = dict(formats._formats)
    saved_flag = formats._entry_points_loaded
    yield
    formats._formats.clear()
    formats._formats.update(saved)
    formats._entry_points_loaded = saved_flag


@pytest.fixture
def memory_url():
    """A fresh ``memory://`` root for one test; removed afterwards."""
    import uuid

    import fsspec

    root = f"memory://daskflow-test-{uuid.uuid4().hex[:12]}"
    yield root
    fs = fsspec.filesystem("memory")
    path = root.split("://", 1)[1]
    if fs.exists(path):
        fs.rm(path, recursive=True)


# -- S3: a real S3 server (moto) on 127.0.0.1 --------------------------------------------------
#
# Modelled on s3fs's own tests (s3fs/tests/test_s3fs.py ``s3_base``): one ``moto_server``
# process serves the whole session; each test resets it, clears fsspec's instance cache and
# gets a fresh bucket. Requests go over real HTTP: nothing in botocore is patched.


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """``moto_server`` on a free port of 127.0.0.1 for the session, with dummy AWS
    credentials in the environment (restored afterwards). Skips without s3fs or moto."""
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from helpers import S3_DUMMY_KEY, S3_DUMMY_SECRET, MotoServer, free_port, moto_command

    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    pytest.importorskip("flask")  # moto's [server] extra

    with pytest.MonkeyPatch.context() as mp:
        # credentials and region for this process and every process started from it
        # (moto itself, LocalCluster workers, subprocesses); nothing of the user's own AWS
        # setup may leak in
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ):
            mp.delenv(name, raising=False)
        nowhere = str(tmp_path_factory.getbasetemp() / "no-aws-config")
        mp.setenv("AWS_CONFIG_FILE", nowhere)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_ACCESS_KEY_ID", S3_DUMMY_KEY)
        mp.setenv("AWS_SECRET_ACCESS_KEY", S3_DUMMY_SECRET)
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")

        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(moto_command(port), stdout=log, stderr=subprocess.STDOUT)
        server = MotoServer(endpoint, process, log_path)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    pytest.fail(f"moto_server exited ({process.returncode}):\n{server.log_tail()}")
                try:
                    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1):
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if time.monotonic() > deadline:
                        pytest.fail(
                            f"moto_server did not answer at {endpoint}:\n{server.log_tail()}"
                        )
                    time.sleep(0.1)
            yield server
        finally:
            server.stop()


@pytest.fixture
def s3(s3_server):
    """A fresh bucket on the reset moto server, with daskflow's ``settings.dirpath`` at
    ``s3://{bucket}/prefix`` and ``settings.storage_options`` pointing at moto (``isolated``
    restores both). fsspec's instance cache is cleared before and after."""
    import uuid

    import s3fs
    from helpers import S3Bucket, moto_post

    moto_post(s3_server.endpoint, "/moto-api/reset-auth", b"inf")
    moto_post(s3_server.endpoint, "/moto-api/reset")
    s3fs.S3FileSystem.clear_instance_cache()
    bucket = S3Bucket(s3_server.endpoint, f"daskflow-{uuid.uuid4().hex[:10]}")
    bucket.fs.mkdir(bucket.bucket)
    daskflow.set_dir(bucket.url)
    settings.storage_options = dict(bucket.storage_options)
    yield bucket
    moto_post(s3_server.endpoint, "/moto-api/reset-auth", b"inf")
    s3fs.S3FileSystem.clear_instance_cache()


# -- distributed: a real LocalCluster of worker processes -------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One ``LocalCluster`` of two worker processes (one thread each) per test module, started
    from a scratch folder, which the workers keep as their working directory. Skips without
    distributed."""
    distributed = pytest.importorskip("distributed")
    with (
        contextlib.chdir(tmp_path_factory.mktemp("cluster")),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
    ):
        yield cluster


@pytest.fixture
def one_worker_cluster():
    """A client of a cluster of one worker process under a nanny, which restarts it when it
    dies; so a task that kills its worker runs again on the restarted one, where every result
    the dead worker held is lost."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def client(cluster):
    """A client of :func:`cluster`, not the default one: each test names the cluster it runs
    on, and no run outside the module can end up on it."""
    from distributed import Client

    with Client(cluster, set_as_default=False) as client:
        yield client
