"""daskflow on S3, against a real S3 server: ``moto_server`` on 127.0.0.1 (conftest ``s3_server``,
one process per session; ``s3`` resets it and makes a fresh bucket for each test).

Covered: the d6tflow documentation pipeline end to end (preview, run, load, paths, reset,
reset_upstream/downstream, forced runs, dependency checks), every format, multiple outputs,
cache and file tasks mixed, storage options per Workflow and per task class, bad
credentials / a missing bucket / an unreachable endpoint (errors before any task runs), saves
that fail halfway, Dask DataFrame outputs written by the workers of a ``LocalCluster``, the
number of S3 requests of a status pass, s3fs missing, pickled targets, and listings that see
what another process just did.

Requests are observed with :class:`CountingProxy`, a small HTTP proxy in front of moto that
records every request it forwards (method, bucket, key, query, the access key id it was
signed with). A test that needs it points ``settings.storage_options`` at the proxy; the
test's own checks (``s3.fs``) go to moto directly and are not counted.

Run time: about half a minute, most of it the LocalCluster and the 1,000-object listings.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import io
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest

s3fs = pytest.importorskip("s3fs")
pytest.importorskip("moto")

from helpers import S3_DUMMY_KEY, RunLog, free_port, iam_user, is_manifest, moto_post  # noqa: E402

import daskflow as d6tflow  # noqa: E402
from daskflow import settings  # noqa: E402
from daskflow.errors import OutputNotFoundError, StorageError, TaskIncompleteError  # noqa: E402
from daskflow.formats import Format  # noqa: E402
from daskflow.targets import make_target  # noqa: E402

pytestmark = [
    # dask's parquet reader (dask 2026.8) still passes inplace=True to pandas 3.1
    pytest.mark.filterwarnings(
        r"ignore:The inplace keyword in DataFrame\.(reset|set)_index is deprecated"
        ":pandas.errors.Pandas4Warning"
    ),
]

RAN = RunLog()  # a file in the test's working directory: forked workers append to it too


def _ran(task):
    RAN.append(repr(task))


ANSI = re.compile(r"\x1b\[\d+m")


def tree(text):
    """The tree lines of a preview, without colours."""
    return [ANSI.sub("", line) for line in text.splitlines() if "--[" in line]


def preview(capsys, flow, *args, **kwargs):
    capsys.readouterr()
    flow.preview(*args, **kwargs)
    return capsys.readouterr().out


# -- a counting proxy in front of moto -------------------------------------------------------


@dataclass(frozen=True)
class S3Request:
    """One request the proxy forwarded."""

    method: str
    bucket: str
    key: str  # "" for a bucket-level request
    query: str
    access_key: str  # the access key id the request was signed with
    copy_source: str | None  # x-amz-copy-source of a server-side copy

    @property
    def is_list(self) -> bool:
        """ListObjects(V2): a GET on the bucket that is not one of its sub-resources."""
        sub = {p.split("=", 1)[0] for p in self.query.split("&") if p}
        return self.method == "GET" and not self.key and not sub & {"location", "policy", "acl"}

    @property
    def is_object_read(self) -> bool:
        """HEAD or GET of one object."""
        return self.method in ("HEAD", "GET") and bool(self.key)

    @property
    def is_write(self) -> bool:
        return self.method in ("PUT", "POST", "DELETE")


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}


class CountingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards every request to moto and records it.

    Each request is forwarded over a new connection, byte for byte (the Host header too, so
    signatures still match); the response is sent back whole with its length.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.requests: list[S3Request] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                body = self._body()
                proxy._record(self.command, self.path, self.headers)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    self.send_response_only(response.status, response.reason)
                    for k, v in response.getheaders():
                        if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    length = str(len(data))
                    if self.command == "HEAD":  # no body, but the length of the object
                        length = response.getheader("Content-Length") or length
                    self.send_header("Content-Length", length)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):
                pass  # a client that drops a keep-alive connection is not an error here

        self._server = Server(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _record(self, method: str, path: str, headers) -> None:
        parts = urlsplit(path)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        found = _CREDENTIAL.search(headers.get("Authorization", ""))
        request = S3Request(
            method=method,
            bucket=bucket,
            key=key,
            query=parts.query,
            access_key=found.group(1) if found else "",
            copy_source=headers.get("x-amz-copy-source"),
        )
        with self._lock:
            self.requests.append(request)

    def take(self) -> list[S3Request]:
        """The requests recorded since the last ``take`` (and forget them), but for the
        probe of conditional writes a process makes once per bucket before its first lease
        (three requests, ``tests/test_leases.py`` tests it)."""
        with self._lock:
            taken, self.requests = self.requests, []
        return [r for r in taken if ".daskflow-probe-" not in r.key]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def s3_proxy(s3):
    """A :class:`CountingProxy` in front of moto; daskflow's storage options point at it."""
    proxy = CountingProxy(s3.endpoint)
    settings.storage_options = {"client_kwargs": {"endpoint_url": proxy.endpoint}}
    try:
        yield proxy
    finally:
        proxy.close()
        s3fs.S3FileSystem.clear_instance_cache()


class Auth:
    """Turns on moto's credential checks for one test (``enable``), with IAM users made
    beforehand (``user``); ``s3`` turns the checks off again."""

    def __init__(self, s3) -> None:
        self.s3 = s3

    def user(self, deny_put: tuple[str, ...] = ()) -> dict[str, str]:
        return iam_user(self.s3.endpoint, deny_put)

    def options(self, creds: dict[str, str]) -> dict[str, object]:
        return {**creds, "client_kwargs": {"endpoint_url": self.s3.endpoint}}

    def fs(self, creds: dict[str, str]):
        return s3fs.S3FileSystem(
            skip_instance_cache=True, use_listings_cache=False, **self.options(creds)
        )

    def enable(self) -> None:
        moto_post(self.s3.endpoint, "/moto-api/reset-auth", b"0")


@pytest.fixture
def s3_auth(s3):
    auth = Auth(s3)
    yield auth
    moto_post(s3.endpoint, "/moto-api/reset-auth", b"inf")


# -- the pipeline of d6tflow's documentation page ----------------------------------------------


class TaskGetData(d6tflow.tasks.TaskPqPandas):
    def run(self):
        _ran(self)
        self.save(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 6.0, 8.0]}))


@d6tflow.requires(TaskGetData)
class TaskPreprocess(d6tflow.tasks.TaskCachePandas):
    do_preprocess = d6tflow.BoolParameter(default=True)

    def run(self):
        _ran(self)
        df = self.inputLoad()
        if self.do_preprocess:
            df = df.assign(x=df["x"] * 10)
        self.save(df)


@d6tflow.requires(TaskPreprocess)
class TaskTrain(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        df = self.inputLoad()
        self.save({"coef": float((df["y"] / df["x"]).mean()), "n": len(df)})


ALL_THREE = [
    "TaskGetData()",
    "TaskPreprocess(do_preprocess=True)",
    "TaskTrain(do_preprocess=True)",
]
PENDING_TREE = [
    "└─--[TaskTrain-{'do_preprocess': 'True'} (PENDING)]",
    "   └─--[TaskPreprocess-{'do_preprocess': 'True'} (PENDING)]",
    "      └─--[TaskGetData-{} (PENDING)]",
]
COMPLETE_TREE = [line.replace("PENDING", "COMPLETE") for line in PENDING_TREE]
GETDATA_KEY = "prefix/TaskGetData/TaskGetData__99914b932b-data.parquet"
TRAIN_KEY = "prefix/TaskTrain/TaskTrain_True_e00389f8b2-data.pkl"


def test_docs_pipeline_preview_run_load_on_s3(s3, capsys):
    flow = d6tflow.Workflow(TaskTrain)
    assert tree(preview(capsys, flow)) == PENDING_TREE
    assert s3.objects() == []

    flow.run(execution_summary=False)
    assert RAN == ALL_THREE
    assert tree(preview(capsys, flow)) == COMPLETE_TREE
    assert flow.complete() is True
    assert flow.outputLoad() == {"coef": 0.2, "n": 4}
    pd.testing.assert_frame_equal(
        flow.outputLoad(TaskGetData),
        pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 6.0, 8.0]}),
    )
    assert flow.outputLoad(TaskPreprocess)["x"].tolist() == [10.0, 20.0, 30.0, 40.0]

    # paths are full URLs, and the objects are really in the bucket (nothing else is:
    # no temporary object, nothing for the in-memory task)
    assert flow.outputPath() == f"s3://{s3.bucket}/{TRAIN_KEY}"
    assert flow.outputPath(TaskGetData) == f"s3://{s3.bucket}/{GETDATA_KEY}"
    assert isinstance(flow.get_task().output().path, str)
    assert s3.objects() == [GETDATA_KEY, TRAIN_KEY]
    assert pickle.loads(s3.read(TRAIN_KEY)) == {"coef": 0.2, "n": 4}
    assert s3.read(GETDATA_KEY)[:4] == b"PAR1"

    # a second run finds everything complete on S3 and runs nothing
    RAN.clear()
    result = flow.run(execution_summary=False)
    assert RAN == [] and result.ran == []


@pytest.fixture
def ran_pipeline(s3):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    assert s3.objects() == [GETDATA_KEY, TRAIN_KEY]
    RAN.clear()
    return flow


def test_docs_pipeline_param_flows_on_s3(s3):
    flow = d6tflow.WorkflowMulti(
        TaskTrain, {"flow1": {"do_preprocess": False}, "flow2": {"do_preprocess": True}}
    )
    flow.run(execution_summary=False)
    assert flow.outputLoad() == {"flow1": {"coef": 2.0, "n": 4}, "flow2": {"coef": 0.2, "n": 4}}
    paths = flow.outputPath()
    assert paths["flow2"] == f"s3://{s3.bucket}/{TRAIN_KEY}"
    assert paths["flow1"].startswith(f"s3://{s3.bucket}/prefix/TaskTrain/TaskTrain_False_")
    assert s3.objects("prefix/TaskTrain") == sorted(s3.key(p) for p in paths.values())
    assert s3.objects("prefix/TaskGetData") == [GETDATA_KEY]  # shared upstream task, once


def test_reset_one_task_and_dependency_checks_on_s3(ran_pipeline, s3, capsys):
    flow = ran_pipeline
    flow.reset(TaskGetData)
    assert s3.objects() == [TRAIN_KEY]

    settings.check_dependencies = True
    assert tree(preview(capsys, flow)) == PENDING_TREE
    assert flow.complete() is False
    settings.check_dependencies = False
    assert tree(preview(capsys, flow)) == [
        "└─--[TaskTrain-{'do_preprocess': 'True'} (COMPLETE)]",
        "   └─--[TaskPreprocess-{'do_preprocess': 'True'} (COMPLETE)]",
        "      └─--[TaskGetData-{} (PENDING)]",
    ]
    assert flow.complete() is True
    flow.run(execution_summary=False)  # without checks, the pending upstream task is left
    assert RAN == []
    assert s3.objects() == [TRAIN_KEY]

    settings.check_dependencies = True
    flow.run(execution_summary=False)
    assert RAN == ALL_THREE
    assert s3.objects() == [GETDATA_KEY, TRAIN_KEY]


def test_reset_upstream_on_s3(ran_pipeline, s3, capsys):
    flow = ran_pipeline
    flow.reset_upstream(TaskPreprocess)  # TaskPreprocess and TaskGetData, not TaskTrain
    assert s3.objects() == [TRAIN_KEY]
    assert not TaskPreprocess().complete(cascade=False)
    assert tree(preview(capsys, flow)) == PENDING_TREE
    flow.run(execution_summary=False)
    assert RAN == ALL_THREE

    RAN.clear()
    flow.reset_upstream()  # everything
    assert s3.objects() == []
    flow.run(execution_summary=False)
    assert RAN == ALL_THREE


def test_reset_downstream_on_s3(ran_pipeline, s3, capsys):
    flow = ran_pipeline
    flow.reset_downstream(TaskPreprocess)  # TaskPreprocess and TaskTrain, not TaskGetData
    assert s3.objects() == [GETDATA_KEY]
    assert tree(preview(capsys, flow)) == [
        "└─--[TaskTrain-{'do_preprocess': 'True'} (PENDING)]",
        "   └─--[TaskPreprocess-{'do_preprocess': 'True'} (PENDING)]",
        "      └─--[TaskGetData-{} (COMPLETE)]",
    ]
    flow.run(execution_summary=False)
    assert list(RAN) == ALL_THREE[1:]
    assert s3.objects() == [GETDATA_KEY, TRAIN_KEY]


def _puts(requests, leases=False):
    """The keys of outputs put (or with ``leases``, of the leases taken)."""
    keys = [r.key for r in requests if r.method == "PUT" and not is_manifest(r.key)]
    return sorted(k for k in keys if k.endswith(".lease") == leases)


def test_forced_runs_rewrite_on_s3(ran_pipeline, s3, s3_proxy):
    flow = ran_pipeline
    s3_proxy.take()
    flow.run(forced_all=True, execution_summary=False)
    assert RAN == ["TaskTrain(do_preprocess=True)"]
    requests = s3_proxy.take()
    assert _puts(requests) == [TRAIN_KEY]
    lease = TRAIN_KEY.rsplit("/", 1)[0] + "/.TaskTrain_True_e00389f8b2.lease"
    assert _puts(requests, leases=True) == [lease]  # taken by one conditional put
    deleted = [r.key for r in requests if r.method == "DELETE"]
    assert lease in deleted  # and let go
    assert [k for k in deleted if k != lease and not is_manifest(k)] == []  # (the old manifest)
    manifests = [r.key for r in requests if r.method == "PUT" and is_manifest(r.key)]
    assert len(manifests) == 1
    assert manifests[0].startswith("prefix/.manifests/TaskTrain/.TaskTrain_True")

    RAN.clear()
    flow.run(forced=TaskPreprocess, execution_summary=False)
    assert list(RAN) == ALL_THREE[1:]
    assert _puts(s3_proxy.take()) == [TRAIN_KEY]  # TaskPreprocess is in memory

    RAN.clear()
    flow.run(forced_all_upstream=True, execution_summary=False)
    assert RAN == ALL_THREE
    assert _puts(s3_proxy.take()) == [GETDATA_KEY, TRAIN_KEY]
    assert s3.objects() == [GETDATA_KEY, TRAIN_KEY]
    assert flow.outputLoad() == {"coef": 0.2, "n": 4}


# -- every format, multiple outputs, cache and file tasks mixed ------------------------------

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
OBJECT = {"list": [1, 2, 3], "text": "s3", "nested": {"k": 1.5}}


class FramePq(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(FRAME)


class FrameCsv(d6tflow.tasks.TaskCSVPandas):
    def run(self):
        self.save(FRAME)


class FrameCsvGz(d6tflow.tasks.TaskCSVGZPandas):
    def run(self):
        self.save(FRAME)


class ObjJson(d6tflow.tasks.TaskJson):
    def run(self):
        self.save(OBJECT)


class ObjPickle(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save({**OBJECT, "set": {1, 2}, "tuple": (1, "a")})


def _csv(raw: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(raw))


@pytest.mark.parametrize(
    ("cls", "ext", "check_bytes"),
    [
        (FramePq, "parquet", lambda raw: raw[:4] == b"PAR1" and raw[-4:] == b"PAR1"),
        (FrameCsv, "csv", lambda raw: _csv(raw).equals(FRAME)),
        (
            FrameCsvGz,
            "csv.gz",
            lambda raw: raw[:2] == b"\x1f\x8b" and _csv(gzip.decompress(raw)).equals(FRAME),
        ),
        (ObjJson, "json", lambda raw: json.loads(raw) == {"data": OBJECT}),
        (ObjPickle, "pkl", lambda raw: pickle.loads(raw)["set"] == {1, 2}),
    ],
    ids=["parquet", "csv", "csv.gz", "json", "pickle"],
)
def test_format_round_trip_on_s3(s3, cls, ext, check_bytes):
    task = cls()
    url = f"{s3.url}/{cls.__name__}/{task.task_id}-data.{ext}"
    assert task.output().path == url
    d6tflow.run(task, execution_summary=False)
    assert s3.objects() == [s3.key(url)]
    assert check_bytes(s3.read(s3.key(url)))

    def check(loaded):
        if isinstance(loaded, pd.DataFrame):
            pd.testing.assert_frame_equal(loaded, FRAME)
        elif cls is ObjPickle:
            assert loaded == {**OBJECT, "set": {1, 2}, "tuple": (1, "a")}
        else:
            assert loaded == OBJECT

    check(task.outputLoad())
    s3fs.S3FileSystem.clear_instance_cache()  # as a fresh process would
    check(cls().outputLoad())
    task.reset()
    assert s3.objects() == []
    assert not task.complete()


class WithMeta(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save("data")
        self.metaSave({"rows": 3, "columns": ["a", "b"]})


@d6tflow.requires(WithMeta)
class ReadsMeta(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save({"meta": self.metaLoad(), "data": self.inputLoad()})


def test_meta_save_and_load_on_s3(s3):
    flow = d6tflow.Workflow(ReadsMeta)
    flow.run(execution_summary=False)
    meta_key = f"prefix/WithMeta/{WithMeta().task_id}-meta.pickle"
    assert meta_key in s3.objects()
    assert pickle.loads(s3.read(meta_key)) == {"rows": 3, "columns": ["a", "b"]}
    assert flow.outputLoadMeta(WithMeta) == {"rows": 3, "columns": ["a", "b"]}
    assert flow.outputLoad() == {"meta": {"rows": 3, "columns": ["a", "b"]}, "data": "data"}
    flow.reset(WithMeta)
    assert meta_key not in s3.objects()


class MultiOut(d6tflow.tasks.TaskPickle):
    persist = ["output1", "output2"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        _ran(self)
        self.save({"output1": 1, "output2": {"two": 2}})


@d6tflow.requires(MultiOut)
class UsesMultiOut(d6tflow.tasks.TaskJson):
    def run(self):
        first, second = self.inputLoad()
        self.save({"sum": first + second["two"], "output2": self.inputLoad(keys="output2")})


def test_multiple_outputs_on_s3(s3):
    flow = d6tflow.Workflow(UsesMultiOut)
    flow.run(execution_summary=False)
    paths = flow.outputPath(MultiOut)
    tid = MultiOut().task_id
    assert paths == {
        "output1": f"{s3.url}/MultiOut/{tid}-output1.pkl",
        "output2": f"{s3.url}/MultiOut/{tid}-output2.pkl",
    }
    assert s3.objects("prefix/MultiOut") == sorted(s3.key(p) for p in paths.values())
    assert flow.outputLoad(MultiOut) == [1, {"two": 2}]
    assert flow.outputLoad(MultiOut, as_dict=True) == {"output1": 1, "output2": {"two": 2}}
    assert flow.outputLoad(MultiOut, keys="output2") == {"two": 2}
    assert flow.outputLoad() == {"sum": 3, "output2": {"two": 2}}

    # one of the two objects gone: the task is not complete, and runs again
    s3.fs.rm(f"{s3.bucket}/{s3.key(paths['output2'])}")
    assert not flow.complete(MultiOut)
    assert not flow.complete()
    RAN.clear()
    flow.run(execution_summary=False)
    assert RAN == ["MultiOut()"]
    assert flow.outputLoad(MultiOut) == [1, {"two": 2}]


class MixSource(d6tflow.tasks.TaskPqPandas):
    def run(self):
        _ran(self)
        self.save(pd.DataFrame({"v": [1, 2, 3]}))


@d6tflow.requires(MixSource)
class MixDouble(d6tflow.tasks.TaskCachePandas):
    def run(self):
        _ran(self)
        df = self.inputLoad()
        self.save(df.assign(v=df["v"] * 2))


@d6tflow.requires(MixSource)
class MixSquares(d6tflow.tasks.TaskCache):
    def run(self):
        _ran(self)
        self.save(int((self.inputLoad()["v"] ** 2).sum()))


class MixReport(d6tflow.tasks.TaskJson):
    def requires(self):
        return {"double": MixDouble(), "squares": MixSquares()}

    def run(self):
        _ran(self)
        got = self.inputLoad()
        self.save({"double": got["double"]["v"].tolist(), "squares": got["squares"]})


@pytest.mark.parametrize("scheduler", ["sync", "processes"])
def test_cache_and_file_tasks_mixed_on_s3(s3, scheduler):
    flow = d6tflow.Workflow(MixReport)
    flow.run(scheduler=scheduler, workers=2, execution_summary=False)
    assert sorted(RAN) == ["MixDouble()", "MixReport()", "MixSource()", "MixSquares()"]
    assert flow.outputLoad() == {"double": [2, 4, 6], "squares": 14}
    # only the file tasks are in the bucket; the in-memory values are here, in this process
    assert s3.objects() == [
        f"prefix/MixReport/{MixReport().task_id}-data.json",
        f"prefix/MixSource/{MixSource().task_id}-data.parquet",
    ]
    assert flow.outputLoad(MixSquares) == 14
    assert flow.complete()
    RAN.clear()
    flow.run(scheduler=scheduler, workers=2, execution_summary=False)
    assert RAN == []

    # the file output gone: both in-memory tasks downstream of it run again
    flow.reset(MixSource)
    flow.run(scheduler=scheduler, workers=2, execution_summary=False)
    assert sorted(RAN) == ["MixDouble()", "MixReport()", "MixSource()", "MixSquares()"]


# -- storage options per Workflow and per task; bad credentials ------------------------------


class AuthSource(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        self.save("source")


@d6tflow.requires(AuthSource)
class AuthTarget(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        self.save(self.inputLoad() + "+target")


class OwnOptions(d6tflow.tasks.TaskPickle):
    storage_options = None  # each test sets it

    def run(self):
        _ran(self)
        self.save("own options")


def _secret_free(error: BaseException, *secrets: str) -> None:
    text = "".join(traceback.format_exception(error)) + repr(error)
    for secret in secrets:
        assert secret not in text


def test_workflow_storage_options_override(s3, s3_auth):
    creds = s3_auth.user()
    s3_auth.enable()  # from here on moto refuses the environment's dummy credentials
    settings.storage_options = {}
    flow = d6tflow.Workflow(AuthTarget, storage_options=s3_auth.options(creds))
    assert flow.complete() is False
    flow.run(execution_summary=False)
    assert RAN == ["AuthSource()", "AuthTarget()"]  # the options reached the upstream task
    assert flow.outputLoad() == "source+target"
    assert flow.complete() is True
    assert flow.outputPath().startswith(f"{s3.url}/AuthTarget/")
    found = s3_auth.fs(creds).find(s3.bucket)
    keys = sorted(k.split("/", 1)[1] for k in found if not is_manifest(k))
    assert keys == [
        f"prefix/AuthSource/{AuthSource().task_id}-data.pkl",
        f"prefix/AuthTarget/{AuthTarget().task_id}-data.pkl",
    ]
    # without the override the request carries the dummy credentials, and is refused
    with pytest.raises(StorageError):
        d6tflow.Workflow(
            AuthTarget, storage_options={"client_kwargs": {"endpoint_url": s3.endpoint}}
        ).complete()
    flow.reset_upstream()
    assert s3_auth.fs(creds).find(s3.bucket) == []


def test_task_class_storage_options(s3, s3_auth, monkeypatch):
    creds = s3_auth.user()
    s3_auth.enable()
    settings.storage_options = {}
    monkeypatch.setattr(OwnOptions, "storage_options", s3_auth.options(creds))
    flow = d6tflow.Workflow(OwnOptions)
    flow.run(execution_summary=False)
    assert RAN == ["OwnOptions()"]
    assert OwnOptions().outputLoad() == "own options"
    assert s3_auth.fs(creds).cat_file(s3.bucket + "/" + s3.key(flow.outputPath())) == (
        pickle.dumps("own options", protocol=pickle.HIGHEST_PROTOCOL)
    )


@pytest.mark.parametrize("where", ["workflow", "task class"])
def test_wrong_credentials_error_before_any_task_runs(s3, s3_auth, monkeypatch, where):
    creds = s3_auth.user()
    s3_auth.enable()
    settings.storage_options = {}
    wrong_secret = "WRONG-" + creds["secret"][::-1]
    bad = s3_auth.options({"key": creds["key"], "secret": wrong_secret})
    if where == "workflow":
        flow = d6tflow.Workflow(AuthTarget, storage_options=bad)
        folders = {f"{s3.url}/AuthSource": "AuthSource()", f"{s3.url}/AuthTarget": "AuthTarget()"}
    else:
        monkeypatch.setattr(OwnOptions, "storage_options", bad)
        flow = d6tflow.Workflow(OwnOptions)
        folders = {f"{s3.url}/OwnOptions": "OwnOptions()"}

    for attempt in (flow.run, flow.preview, flow.complete):
        with pytest.raises(StorageError) as info:
            attempt()
        message = str(info.value)
        named = [f for f in folders if f in message]
        assert named, message  # the URL
        assert folders[named[0]] in message  # the task that needs it
        _secret_free(info.value, wrong_secret, creds["secret"])
    assert RAN == []
    assert s3_auth.fs(creds).find(s3.bucket) == []


def test_missing_bucket_error_before_any_task_runs(s3, capsys):
    d6tflow.set_dir("s3://daskflow-no-such-bucket/prefix")
    flow = d6tflow.Workflow(TaskTrain)
    for attempt in (flow.run, flow.preview, flow.complete):
        with pytest.raises(StorageError) as info:
            attempt()
        message = str(info.value)
        assert "s3://daskflow-no-such-bucket" in message
        assert re.search(r"TaskGetData\(\)|TaskTrain\(do_preprocess=True\)", message), message
    assert RAN == []
    assert not s3.fs.exists("daskflow-no-such-bucket")  # and nobody created it


def test_unreachable_endpoint_error_in_bounded_time(s3):
    # What a user sets to fail fast: botocore's connect timeout and a single attempt
    # (s3fs adds its own few retries with a short backoff on top).
    settings.storage_options = {
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{free_port()}"},  # nothing there
        "config_kwargs": {"connect_timeout": 1, "read_timeout": 1, "retries": {"max_attempts": 1}},
    }
    flow = d6tflow.Workflow(TaskTrain)
    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        flow.run(execution_summary=False)
    assert time.monotonic() - start < 20
    message = str(info.value)
    assert re.search(rf"{s3.url}/(TaskGetData|TaskTrain)", message), message
    assert re.search(r"TaskGetData\(\)|TaskTrain\(do_preprocess=True\)", message), message
    assert RAN == []


# -- saves that fail halfway -----------------------------------------------------------------

BEHAVIOUR = {"mode": "ok", "version": "v1"}


@pytest.fixture
def behaviour():
    yield BEHAVIOUR
    BEHAVIOUR.update(mode="ok", version="v1")


class Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot pickle this on purpose")


class TwoOutputs(d6tflow.tasks.TaskPickle):
    persist = ["first", "second"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        _ran(self)
        version = BEHAVIOUR["version"]
        if BEHAVIOUR["mode"] == "raise after first":
            self.output()["first"].save(version)
            raise RuntimeError("failed after saving the first output")
        if BEHAVIOUR["mode"] == "format fails on second":
            self.save({"first": version, "second": [version, Unpicklable()]})
        self.save({"first": version, "second": version})


def _two_outputs_state(s3):
    task = TwoOutputs()
    keys = [s3.key(t.path) for t in task.output().values()]
    found = set(s3.objects())
    values = [pickle.loads(s3.read(k)) if k in found else None for k in keys]
    return task.complete(), values


@pytest.mark.parametrize("mode", ["raise after first", "format fails on second"])
def test_failed_save_leaves_nothing_complete(s3, behaviour, mode):
    behaviour["mode"] = mode
    leftovers_before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(RuntimeError):
        d6tflow.Workflow(TwoOutputs).run(execution_summary=False)
    assert _two_outputs_state(s3) == (False, [None, None])
    assert s3.objects() == []
    new_temp = set(os.listdir(tempfile.gettempdir())) - leftovers_before
    assert not [n for n in new_temp if TwoOutputs().task_id in n]


@pytest.mark.parametrize("mode", ["raise after first", "format fails on second"])
def test_failed_forced_rerun_keeps_committed_outputs(s3, behaviour, mode):
    flow = d6tflow.Workflow(TwoOutputs)
    flow.run(execution_summary=False)
    assert _two_outputs_state(s3) == (True, ["v1", "v1"])
    behaviour.update(mode=mode, version="v2")
    with pytest.raises(RuntimeError):
        flow.run(forced_all=True, execution_summary=False)
    assert _two_outputs_state(s3) == (True, ["v1", "v1"])
    assert flow.outputLoad() == ["v1", "v1"]


class HalfWriter(Format):
    """Writes some bytes, then fails: a format that breaks halfway."""

    name, ext = "half-writer", "bin"

    def save(self, obj, fs, path, **kwargs):
        with fs.open(path, "wb") as f:
            f.write(b"partial bytes")
            raise OSError("disk on fire halfway through")

    def load(self, fs, path, **kwargs):
        with fs.open(path, "rb") as f:
            return f.read()


class HalfWritten(d6tflow.tasks.TaskData):
    format = "half-writer"

    def run(self):
        _ran(self)
        self.save(b"whole")


def test_format_failing_halfway_leaves_no_object(s3):
    d6tflow.formats.register(HalfWriter())  # restore_format_registry removes it afterwards
    with pytest.raises(RuntimeError) as info:
        d6tflow.Workflow(HalfWritten).run(execution_summary=False)
    assert "disk on fire" in str(info.value.__cause__)
    assert s3.objects() == []
    assert not HalfWritten().complete()


def test_commit_failing_on_second_object_leaves_nothing_complete(s3, s3_auth, behaviour):
    """S3 refuses the PUT of the second output (an IAM deny on that one key) while the task
    commits: the first output must not be left as a complete-looking mix of two runs."""
    task = TwoOutputs()
    second_key = s3.key(task.output()["second"].path)
    writer = s3_auth.user()
    denied = s3_auth.user(deny_put=(f"{s3.bucket}/{second_key}",))
    s3_auth.enable()

    settings.storage_options = s3_auth.options(writer)
    flow = d6tflow.Workflow(TwoOutputs)
    flow.run(execution_summary=False)
    assert flow.outputLoad() == ["v1", "v1"]

    behaviour["version"] = "v2"
    settings.storage_options = s3_auth.options(denied)
    with pytest.raises(RuntimeError) as info:
        flow.run(forced_all=True, execution_summary=False)
    assert isinstance(info.value.__cause__, OSError)  # S3's AccessDenied, as s3fs raises it

    settings.storage_options = s3_auth.options(writer)
    s3fs.S3FileSystem.clear_instance_cache()
    complete = TwoOutputs().complete()
    fs = s3_auth.fs(writer)

    def stored(target):
        try:
            return pickle.loads(fs.cat_file(f"{s3.bucket}/{s3.key(target.path)}"))
        except FileNotFoundError:
            return None

    values = [stored(t) for t in task.output().values()]
    # either the committed outputs of the first run are untouched, or the task is not complete
    # (daskflow removes the old outputs before committing several: the next run redoes it)
    assert values == ["v1", "v1"] or not complete, (complete, values)
    assert "v2" not in values or not complete


# -- Dask DataFrames written by the workers of a LocalCluster --------------------------------


def _tag_writer(part: pd.DataFrame) -> pd.DataFrame:
    """Add the address of the Dask worker that computes this partition."""
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):
        address = "not-a-worker"
    return part.assign(writer=address)


class DaskData(d6tflow.tasks.TaskPqDask):
    rows = d6tflow.IntParameter(default=40)

    def run(self):
        import dask.dataframe as dd

        frame = dd.from_pandas(pd.DataFrame({"i": range(self.rows)}), npartitions=4)
        self.save(frame.map_partitions(_tag_writer))


@d6tflow.requires(DaskData)
class DaskSummary(d6tflow.tasks.TaskPickle):
    def run(self):
        import dask.dataframe as dd

        frame = self.inputLoad()
        self.save(
            {
                "lazy": isinstance(frame, dd.DataFrame),
                "npartitions": frame.npartitions,
                "total": int(frame["i"].sum().compute(scheduler="sync")),
                "writers": sorted(set(frame["writer"].compute(scheduler="sync"))),
            }
        )


class DaskCsvData(d6tflow.tasks.TaskCSVDask):
    def run(self):
        import dask.dataframe as dd

        frame = pd.DataFrame({"i": range(30), "s": [f"row{i}" for i in range(30)]})
        self.save(dd.from_pandas(frame, npartitions=3))


def _name_worker_credentials() -> str:
    """Sign this worker's S3 requests with an access key id of its own (moto does not check
    it), so the proxy can tell which process sent each request."""
    key = f"worker-{os.getpid()}"
    os.environ["AWS_ACCESS_KEY_ID"] = key
    s3fs.S3FileSystem.clear_instance_cache()
    return key


@pytest.fixture(scope="module")
def dask_cluster(s3_server, tmp_path_factory):
    """A LocalCluster of two single-threaded worker processes, started after the dummy AWS
    credentials are in the environment; ``(client, {worker address: access key id})``."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    with (
        contextlib.chdir(tmp_path_factory.mktemp("s3-cluster")),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        keys = client.run(_name_worker_credentials)
        yield client, keys


def test_dask_parquet_written_by_cluster_workers(s3, s3_proxy, dask_cluster):
    import dask.dataframe as dd

    client, worker_keys = dask_cluster
    flow = d6tflow.Workflow(DaskSummary)
    flow.run(scheduler=client, execution_summary=False)
    requests = s3_proxy.take()

    dataset = s3.key(flow.outputPath(DaskData))
    assert dataset == f"prefix/DaskData/{DaskData().task_id}-data.parquet"
    keys = s3.objects()
    parts = [k for k in keys if k.startswith(dataset + "/") and k.endswith(".parquet")]
    assert len(parts) == 4, keys
    assert f"{dataset}/_SUCCESS" in keys
    assert not [k for k in keys if ".tmp" in k], keys  # the staging folder is gone

    # the partitions were computed and written by the workers, not by this process
    summary = flow.outputLoad()
    assert summary["lazy"] is True
    assert summary["npartitions"] == 4
    assert summary["total"] == sum(range(40))
    assert set(summary["writers"]) <= set(worker_keys), summary["writers"]
    part_puts = [r for r in requests if r.method == "PUT" and r.key.endswith(".parquet")]
    part_puts = [r for r in part_puts if r.copy_source is None and "/part." in r.key]
    assert len(part_puts) >= 4, requests
    assert {r.access_key for r in part_puts} <= set(worker_keys.values()), part_puts
    mine = [r for r in requests if r.access_key == S3_DUMMY_KEY and ".parquet/" in r.key]
    assert [r for r in mine if r.method in ("PUT", "GET")] == []  # no data through the client

    # the marker is the last object written into the dataset, and it is written once
    writes = [(i, r) for i, r in enumerate(requests) if r.method in ("PUT", "POST")]
    into = [(i, r) for i, r in writes if r.key.startswith(dataset + "/")]
    markers = [i for i, r in into if r.key == f"{dataset}/_SUCCESS"]
    assert len(markers) == 1
    assert into[-1][0] == markers[0], [r.key for _, r in into]

    # downstream, in this process too: a lazy Dask DataFrame with the data
    frame = flow.outputLoad(DaskData)
    assert isinstance(frame, dd.DataFrame)
    values = frame.compute(scheduler="sync")
    assert sorted(values["i"].tolist()) == list(range(40))


def test_dask_csv_on_cluster(s3, dask_cluster):
    import dask.dataframe as dd

    client, _ = dask_cluster
    flow = d6tflow.Workflow(DaskCsvData)
    flow.run(scheduler=client, execution_summary=False)
    dataset = s3.key(flow.outputPath())
    assert s3.objects(dataset) == [
        f"{dataset}/_SUCCESS",
        f"{dataset}/part-0.csv",
        f"{dataset}/part-1.csv",
        f"{dataset}/part-2.csv",
    ]
    frame = flow.outputLoad()
    assert isinstance(frame, dd.DataFrame)
    loaded = frame.compute(scheduler="sync").sort_values("i").reset_index(drop=True)
    assert loaded["i"].tolist() == list(range(30))
    assert loaded["s"].tolist() == [f"row{i}" for i in range(30)]


def test_dataset_without_marker_is_not_complete_and_is_rewritten(s3, capsys):
    task = DaskData(rows=20)
    dataset = s3.key(task.output().path)
    # a writer that died: some parts, an odd one, no marker
    stale = pd.DataFrame({"i": [999], "writer": ["dead"]}).to_parquet()
    s3.write(f"{dataset}/part.0.parquet", stale)
    s3.write(f"{dataset}/part.9.parquet", b"truncated garbage")
    assert task.complete() is False
    assert "(PENDING)" in preview(capsys, d6tflow.Workflow(DaskData, {"rows": 20}))
    with pytest.raises((OutputNotFoundError, TaskIncompleteError)):
        task.outputLoad()

    d6tflow.run(task, execution_summary=False)
    keys = s3.objects(dataset)
    assert f"{dataset}/_SUCCESS" in keys
    assert f"{dataset}/part.9.parquet" not in keys  # the dead writer's parts are gone
    assert task.complete() is True
    loaded = task.outputLoad().compute(scheduler="sync")
    assert sorted(loaded["i"].tolist()) == list(range(20))


def _fail_third(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
    if partition_info and partition_info["number"] == 2:
        raise ValueError("partition 2 broke while the others were being written")
    return part


class DaskFlaky(d6tflow.tasks.TaskPqDask):
    def run(self):
        import dask.dataframe as dd

        frame = pd.DataFrame({"i": range(40), "version": BEHAVIOUR["version"]})
        frame = dd.from_pandas(frame, npartitions=4)
        if BEHAVIOUR["mode"] == "partition fails":
            frame = frame.map_partitions(_fail_third, meta=frame._meta)
        self.save(frame)
        if BEHAVIOUR["mode"] == "raise after save":
            raise RuntimeError("failed after saving the dataset")


@pytest.mark.parametrize("mode", ["partition fails", "raise after save"])
def test_failed_dataset_write_keeps_committed_dataset(s3, behaviour, mode):
    task = DaskFlaky()
    dataset = s3.key(task.output().path)
    behaviour["mode"] = mode
    with pytest.raises(RuntimeError):  # a first run that fails: nothing at all is left
        d6tflow.run(task, execution_summary=False)
    assert s3.objects() == []
    assert not task.complete()

    behaviour["mode"] = "ok"
    d6tflow.run(task, execution_summary=False)
    committed = s3.objects()
    assert f"{dataset}/_SUCCESS" in committed

    behaviour.update(mode=mode, version="v2")
    with pytest.raises(RuntimeError):  # a forced rerun that fails: the v1 dataset stays
        d6tflow.run(task, forced_all=True, execution_summary=False)
    assert s3.objects() == committed
    assert task.complete()
    assert set(task.outputLoad().compute(scheduler="sync")["version"]) == {"v1"}


# -- how many requests a status pass makes ---------------------------------------------------


class Leaf(d6tflow.tasks.TaskPickle):
    i = d6tflow.IntParameter()

    def run(self):
        _ran(self)
        self.save(self.i)


class Leaves(d6tflow.tasks.TaskAggregator):
    n = d6tflow.IntParameter()

    def run(self):
        for i in range(self.n):
            yield Leaf(i=i)


def _make_leaves(s3, start, stop):
    """Complete Leaf tasks ``start..stop-1``: their objects written directly in the bucket."""
    s3.fs.pipe(
        {
            f"{s3.bucket}/{s3.key(Leaf(i=i).output().path)}": pickle.dumps(i)
            for i in range(start, stop)
        }
    )


def _status_requests(proxy, capsys, n):
    """The requests of a preview, a complete() and a no-op run of ``n`` complete Leaf
    tasks, counted by kind."""
    flow = d6tflow.Workflow(Leaves, {"n": n})
    proxy.take()
    counts = {}
    for name, call in [
        ("preview", lambda: preview(capsys, flow)),
        ("complete", flow.complete),
        ("run", lambda: flow.run(execution_summary=False)),
    ]:
        answer = call()
        requests = proxy.take()
        counts[name] = {
            "list": sum(r.is_list for r in requests),
            "object reads": sum(r.is_object_read for r in requests),
            "writes": sum(r.is_write for r in requests),
            "all": len(requests),
        }
        if name == "preview":
            assert answer.count("(COMPLETE)") == n + 1 and "PENDING" not in answer
        if name == "complete":
            assert answer is True
    assert RAN == []
    return counts


def test_status_pass_requests_do_not_grow_with_tasks(s3, s3_proxy, capsys):
    _make_leaves(s3, 0, 100)
    small = _status_requests(s3_proxy, capsys, 100)
    _make_leaves(s3, 100, 1000)
    large = _status_requests(s3_proxy, capsys, 1000)
    for name, counts in large.items():
        assert 1 <= counts["list"] <= 5, (name, counts)
        assert counts["object reads"] == 0, (name, counts)
        assert counts["writes"] == 0, (name, counts)
        assert counts["all"] <= 5, (name, counts)
    assert small == large

    # the proxy does see per-object checks: d6tflow's way, one exists() per output
    s3_proxy.take()
    assert all(Leaf(i=i).output().exists() for i in range(20))
    assert len(s3_proxy.take()) >= 20


# -- s3fs missing, pickled targets, listings that are never stale ----------------------------


def test_s3_url_without_s3fs_says_what_to_install(monkeypatch):
    import importlib

    # the classes fsspec already imported (``fsspec.registry`` the attribute is a view)
    loaded = importlib.import_module("fsspec.registry")._registry
    monkeypatch.setitem(sys.modules, "s3fs", None)
    for protocol in ("s3", "s3a"):
        monkeypatch.delitem(loaded, protocol, raising=False)
    d6tflow.set_dir("s3://any-bucket/prefix")
    hint = "pip install 'daskflow[s3]'"
    for attempt in (
        d6tflow.Workflow(TaskTrain).run,
        d6tflow.Workflow(TaskTrain).preview,
        TaskGetData().output().exists,
        lambda: TaskGetData().output().load(),
    ):
        with pytest.raises(StorageError) as info:
            attempt()
        assert hint in str(info.value)
        assert "s3://any-bucket/prefix" in str(info.value)
    assert RAN == []


_UNPICKLE_AND_LOAD = """
import pickle, sys
target = pickle.loads(bytes.fromhex(sys.stdin.read()))
print(repr(target.load()))
"""


def test_targets_pickle_as_url_and_options(s3):
    import cloudpickle

    targets = [
        make_target(f"{s3.url}/T/x.pkl", "pickle", settings.storage_options),
        make_target(f"{s3.url}/T/frame.parquet", "dask-parquet", settings.storage_options),
    ]
    targets[0].save({"a": 1})
    for target in targets:
        target.exists()  # opens (and caches) its filesystem
        assert isinstance(target.fs, s3fs.S3FileSystem)
        for dumps in (pickle.dumps, cloudpickle.dumps):
            blob = dumps(target)
            for needle in (b"s3fs", b"S3FileSystem", b"aiobotocore", b"fsspec"):
                assert needle not in blob, (type(target).__name__, needle)
            clone = pickle.loads(blob)
            assert type(clone) is type(target)
            assert (clone.url, clone.storage_options) == (target.url, target.storage_options)
            assert clone.format.name == target.format.name
    assert pickle.loads(pickle.dumps(targets[0])).load() == {"a": 1}

    # another process opens the filesystem itself
    out = subprocess.run(
        [sys.executable, "-c", _UNPICKLE_AND_LOAD],
        input=pickle.dumps(targets[0]).hex(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "{'a': 1}"


_OTHER_PROCESS = """
import pickle, sys
import s3fs
fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": sys.argv[1]})
print("ready", flush=True)
for line in sys.stdin:
    action, path = line.split()
    if action == "put":
        fs.pipe_file(path, pickle.dumps("written elsewhere"))
    else:
        fs.rm_file(path)
    print("done", flush=True)
"""


@contextlib.contextmanager
def other_process(s3):
    """Another process with s3fs of its own; ``do("put"|"rm", key)`` changes an object."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _OTHER_PROCESS, s3.endpoint],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def do(action, key):
        proc.stdin.write(f"{action} {s3.bucket}/{key}\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done", f"{action} {key} failed"

    try:
        assert proc.stdout.readline().strip() == "ready"
        yield do
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()


@pytest.mark.parametrize("neighbour", [False, True], ids=["empty folder", "busy folder"])
def test_listing_is_never_stale(s3, neighbour):
    if neighbour:  # another output already in the same folder
        d6tflow.run(Leaf(i=1), execution_summary=False)
    task = Leaf(i=2)
    flow = d6tflow.Workflow(Leaf, {"i": 2})
    key = s3.key(task.output().path)
    with other_process(s3) as elsewhere:
        assert flow.complete() is False  # lists the folder: s3fs would cache that listing
        assert task.output().exists() is False
        elsewhere("put", key)
        assert flow.complete() is True
        assert task.output().exists() is True
        assert flow.outputLoad() == "written elsewhere"
        elsewhere("rm", key)
        assert flow.complete() is False
    assert task.output().exists() is False
    with pytest.raises(TaskIncompleteError):
        flow.outputLoad()


class SegmentStats(d6tflow.tasks.TaskPickle):
    year = d6tflow.IntParameter()
    persist = ["a", "b"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        _ran(self)
        time.sleep(0.1)  # long enough for the default scheduler to send it to a worker
        self.save({"a": self.year, "b": {"year": self.year}})


class Other(d6tflow.tasks.TaskPickle):
    year = d6tflow.IntParameter()

    def run(self):
        _ran(self)
        time.sleep(0.1)
        self.save(self.year * 10)


class Dashboard(d6tflow.tasks.TaskPickle):
    year = d6tflow.IntParameter()

    def requires(self):
        return {"stats": SegmentStats(year=self.year), "other": Other(year=self.year)}

    def run(self):
        _ran(self)
        got = self.inputLoad()
        self.save({"stats": got["stats"], "other": got["other"]})


def test_default_scheduler_sees_what_forked_workers_wrote(s3):
    # issue 16: the folders are listed by the status pass of each run (from the second value
    # on they exist), then forked workers write into them, then Dashboard, in this process,
    # loads what they wrote: no listing made before may hide it
    for year in (2020, 2021, 2022):
        RAN.clear()
        flow = d6tflow.Workflow(Dashboard, {"year": year})
        flow.run(execution_summary=False)  # the default scheduler
        assert sorted(RAN) == [
            f"Dashboard(year={year})",
            f"Other(year={year})",
            f"SegmentStats(year={year})",
        ]
        assert flow.outputLoad() == {"stats": [year, {"year": year}], "other": year * 10}
        assert flow.complete()
    assert len(s3.objects("prefix/SegmentStats")) == 6


def test_credentials_in_the_url_never_reach_an_error(s3):
    # s3fs takes key:secret written into the URL; botocore's message quotes the URL back
    secret = "NOT-TO-BE-SHOWN-" + uuid.uuid4().hex
    d6tflow.set_dir(f"s3://AKIDEXAMPLE:{secret}@daskflow-no-such-bucket/prefix")
    flow = d6tflow.Workflow(TaskTrain)
    for attempt in (flow.run, flow.preview, flow.complete):
        with pytest.raises(StorageError) as info:
            attempt()
        assert "s3://***@daskflow-no-such-bucket" in str(info.value), str(info.value)
        _secret_free(info.value, secret)
