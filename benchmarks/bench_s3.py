"""daskflow on S3: the status pass of 1,000 complete tasks, and DataFrame throughput.

Everything runs against a local S3 server: the script starts its own
``moto_server -H 127.0.0.1 -p <free port>`` (dummy credentials in the environment) and
stops it at the end, also on errors. Between daskflow and moto it puts a small counting HTTP
proxy (a threading ``http.server`` that forwards every request and counts it by method and
S3 operation, read from the query: ``list-type=2`` is ListObjectsV2, ``uploadId`` a part of a
multipart upload, ...), so the request counts below are the requests that reached the server.

1. **Status pass.** ``--tasks`` (default 1,000) complete ``Leaf(i)`` tasks of one family and
   the ``Join`` that requires them all (its own output present too): the objects are created
   directly (s3fs ``pipe`` at ``task.output().path``), then it times, best of ``--repeat``:

   - daskflow ``Workflow(Join).complete()``, ``preview()`` (printed into a buffer) and a
     no-op ``run()``; each through the proxy (requests counted) and straight to moto;
   - d6tflow-style checking of the same objects: one ``fs.exists(path)`` per output, one
     after the other, which is what d6tflow's ``complete()`` does for every task;
   - d6tflow 0.2.8 itself with ``d6tflow.enable_cloud_storage("s3", ...)``, when the
     interpreter ``--d6tflow-python`` (default ``.d6t-venv/bin/python``) has d6tflow,
     ``upath`` (universal_pathlib) and s3fs; otherwise the script says which are missing and
     skips it.

2. **Throughput.** A ``--rows`` (default 5,000,000) row frame (int64, two float64, int32 and
   a 200-value categorical) saved by a ``TaskPqPandas`` whose ``run()`` saves a module-level
   frame (``Workflow.run()``, the output reset before each try) and read back with
   ``Workflow.outputLoad()``, against ``df.to_parquet("s3://bucket/plain.parquet",
   storage_options=...)`` and ``pd.read_parquet(...)``: best of ``--repeat``, straight to
   moto, then once more through the proxy to count requests. Goal: within 1.2x of pandas.

Usage::

    python benchmarks/bench_s3.py                  # 1,000 tasks, 5,000,000 rows, best of 3
    python benchmarks/bench_s3.py --quick          # 100 tasks, 500,000 rows
    python benchmarks/bench_s3.py --only status --profile   # + cProfile of each daskflow step

``--profile`` runs each daskflow step once more under cProfile and prints its top functions.
This is a benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import io
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_D6TFLOW_PYTHON = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".d6t-venv", "bin", "python"
)  # (benchmarks/README.md: how to make it)
BUCKET = "daskflow-bench"
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
CONTROL = "/__proxy__/"  # the proxy's own endpoints: counts (GET) and reset (POST)


# -- the S3 server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: get SIGTERM if this script dies without cleaning up (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A ``moto_server`` on 127.0.0.1 and a free port; yields its URL, stops it on exit."""
    beside = os.path.join(os.path.dirname(sys.executable), "moto_server")
    exe = beside if os.path.exists(beside) else shutil.which("moto_server") or beside
    if not os.path.exists(exe):
        raise SystemExit("moto_server not found: pip install 'moto[server]'")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile(prefix="moto-") as log:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **DUMMY_AWS},
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        try:
            _wait_for(url, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"moto_server exited ({proc.returncode}):\n{output}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not answer within {seconds:.0f} s") from None
            time.sleep(0.1)


# -- the counting proxy -------------------------------------------------------------------------

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "expect",
}


def s3_operation(method: str, target: str, headers: Any = None) -> str:
    """The S3 operation of a path-style request, e.g. ``GET ListObjectsV2``; a request this
    does not recognise is named by its method and query keys (``GET ?acl``)."""
    parts = urlsplit(target)
    q = parse_qs(parts.query, keep_blank_values=True)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    return f"{method} {_operation(method, bucket, key, q, headers) or '?' + '&'.join(sorted(q))}"


LIST_V1_KEYS = {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}


def _operation(method: str, bucket: str, key: str, q: dict[str, Any], headers: Any) -> str:
    if method == "GET" and not bucket:
        return "ListBuckets"
    if method == "GET" and not key:
        if q.get("list-type") == ["2"]:
            return "ListObjectsV2"
        for name, op in (
            ("location", "GetBucketLocation"),
            ("uploads", "ListMultipartUploads"),
            ("versions", "ListObjectVersions"),
        ):
            if name in q:
                return op
        return "ListObjects" if set(q) <= LIST_V1_KEYS else ""
    if method == "GET":
        return "ListParts" if "uploadId" in q else "GetObject"
    if method == "HEAD":
        return "HeadObject" if key else "HeadBucket"
    if method == "PUT":
        if not key:
            return "" if q else "CreateBucket"
        if "partNumber" in q:
            return "UploadPart"
        if headers is not None and headers.get("x-amz-copy-source"):
            return "CopyObject"
        return "" if q else "PutObject"
    if method == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
        return "DeleteObjects" if "delete" in q else ""
    if method == "DELETE":
        if "uploadId" in q:
            return "AbortMultipartUpload"
        return "DeleteObject" if key else "DeleteBucket"
    return ""


class CountingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards every request to ``upstream`` and counts it.

    ``url`` is what clients use as their S3 endpoint. :meth:`reset` and :meth:`counts` work
    in this process; another process uses ``POST {url}/__proxy__/reset`` and
    ``GET {url}/__proxy__/counts`` (these are not forwarded and not counted).
    """

    def __init__(self, upstream: str) -> None:
        up = urlsplit(upstream)
        self.upstream = (up.hostname or "127.0.0.1", up.port or 80)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(*self.upstream, timeout=300)
            self._local.conn = conn
        return conn

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = _read_body(h)
        if h.path.startswith(CONTROL):
            self._control(h)
            return
        with self._lock:
            self._counts[s3_operation(h.command, h.path, h.headers)] += 1
        headers = [(k, v) for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP]
        if body is not None:
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        for attempt in (0, 1):
            conn = self._conn(fresh=attempt > 0)
            try:
                conn.putrequest(h.command, h.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                if attempt:
                    raise
        h.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            low = k.lower()
            if low in HOP_BY_HOP or (low == "content-length" and h.command != "HEAD"):
                continue
            h.send_header(k, v)
        if h.command != "HEAD":
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD" and data:
            h.wfile.write(data)

    def _control(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith(CONTROL + "reset"):
            self.reset()
            payload = b"{}"
        else:
            payload = json.dumps(self.counts()).encode()
        h.send_response_only(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)


def _read_body(h: BaseHTTPRequestHandler) -> bytes | None:
    if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(h.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    length = h.headers.get("Content-Length")
    if length is None:
        return None
    return h.rfile.read(int(length))


def describe(counts: Counter[str]) -> str:
    """``"2 (2 GET ListObjectsV2)"``."""
    total = sum(counts.values())
    parts = ", ".join(f"{n} {op}" for op, n in counts.most_common())
    return f"{total} ({parts})" if total else "0"


# -- measuring ----------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def best_of(repeat: int, fn: Callable[[], Any], setup: Callable[[], Any] | None = None) -> float:
    """The fastest of ``repeat`` timed calls of ``fn`` (``setup`` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        times.append(timed(fn)[0])
    return min(times)


def counted(proxy: CountingProxy, fn: Callable[[], Any]) -> tuple[float, Counter[str]]:
    """One timed call of ``fn`` and the requests it sent through ``proxy``."""
    proxy.reset()
    seconds, _ = timed(fn)
    return seconds, proxy.counts()


def profile(label: str, fn: Callable[[], Any], top: int = 18) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"\n--- cProfile: {label} (cumulative, top {top}) ---")
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    for line in lines[max(0, start - 4) :]:
        if line.strip():
            print(
                line.replace(os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + "/", "")
            )


def quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


def s3fs_for(endpoint: str) -> Any:
    """A fresh s3fs filesystem on ``endpoint`` (not shared through fsspec's instance cache)."""
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)


# -- 1. the status pass -------------------------------------------------------------------------

try:
    import daskflow as d6tflow
except ImportError:  # --as-d6tflow runs this file under d6tflow's interpreter
    d6tflow = None

if d6tflow is not None:

    class Leaf(d6tflow.tasks.TaskPickle):
        i = d6tflow.IntParameter()

        def run(self) -> None:
            self.save(self.i)

    class Join(d6tflow.tasks.TaskPickle):
        n = d6tflow.IntParameter()

        def requires(self) -> list[Leaf]:
            return [Leaf(i=i) for i in range(self.n)]

        def run(self) -> None:
            self.save(sum(self.inputLoad()))

    class SaveFrame(d6tflow.tasks.TaskPqPandas):
        def run(self) -> None:
            self.save(FRAME)


def status_pass(args: argparse.Namespace, moto: str, proxy: CountingProxy) -> dict[str, Any]:
    n = args.tasks
    root = f"s3://{BUCKET}/status"
    params = {"n": n}

    def flow(endpoint: str) -> d6tflow.Workflow:
        return d6tflow.Workflow(Join, params, path=root, storage_options={"endpoint_url": endpoint})

    # the objects, where daskflow's tasks look for them, written straight to moto
    join = flow(moto).get_task()
    tasks = [join, *join.deps()]
    paths = [str(t.output().path) for t in tasks]
    folders = sorted({p.rsplit("/", 1)[0] for p in paths})
    direct_fs = s3fs_for(moto)
    seconds, _ = timed(lambda: direct_fs.pipe({p: b"\x80\x04K\x00." for p in paths}))
    print(
        f"\n[1] status pass: {n:,} complete Leaf tasks + 1 Join in {len(folders)} folders "
        f"({len(paths):,} objects, written with s3fs pipe in {seconds:.2f} s)"
    )

    rows: list[tuple[str, float, float, Counter[str]]] = []
    via, direct = flow(proxy.url), flow(moto)

    def preview(f: d6tflow.Workflow) -> Callable[[], None]:
        def go() -> None:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                f.preview()
            text = buf.getvalue()
            if text.count("COMPLETE") != n + 1:
                raise RuntimeError(
                    f"preview shows {text.count('COMPLETE')} complete tasks, not {n + 1}"
                )

        return go

    def run(f: d6tflow.Workflow) -> Callable[[], None]:
        def go() -> None:
            result = f.run(execution_summary=False)
            if result is None or result.ran:
                raise RuntimeError(f"the no-op run ran {len(result.ran) if result else '?'} tasks")

        return go

    def complete(f: d6tflow.Workflow) -> Callable[[], None]:
        def go() -> None:
            if not f.complete():
                raise RuntimeError(
                    "Workflow.complete() is False: the objects are not where expected"
                )

        return go

    steps = [("complete()", complete), ("preview()", preview), ("no-op run()", run)]
    for label, make in steps:
        make(via)()  # warm-up: connections, imports
        make(direct)()
        via_s = best_of(args.repeat, make(via))
        direct_s = best_of(args.repeat, make(direct))
        _, counts = counted(proxy, make(via))
        rows.append((f"daskflow Workflow.{label}", via_s, direct_s, counts))
        if args.profile:
            profile(f"daskflow {label}, {n} tasks, straight to moto", make(direct))

    # d6tflow-style: one exists() per output, one after the other
    def exists_each(fs: Any) -> Callable[[], None]:
        def go() -> None:
            fs.invalidate_cache()
            missing = [p for p in paths if not fs.exists(p)]
            if missing:
                raise RuntimeError(f"{len(missing)} objects missing, e.g. {missing[0]}")

        return go

    via_fs, direct_fs = s3fs_for(proxy.url), s3fs_for(moto)
    exists_each(via_fs)()
    exists_each(direct_fs)()
    via_s = best_of(args.repeat, exists_each(via_fs))
    direct_s = best_of(args.repeat, exists_each(direct_fs))
    _, counts = counted(proxy, exists_each(via_fs))
    rows.append((f"d6tflow-style: {len(paths):,} x fs.exists(path)", via_s, direct_s, counts))

    d6t = d6tflow_status(args, moto, proxy)

    width = max(len(r[0]) for r in rows)
    print(f"\n{'':<{width}}  {'via proxy s':>11}  {'direct s':>9}  S3 requests (via proxy)")
    print("-" * (width + 60))
    for label, via_s, direct_s, counts in rows:
        print(f"{label:<{width}}  {via_s:>11.3f}  {direct_s:>9.3f}  {describe(counts)}")
    if d6t.get("rows"):
        print(f"\nd6tflow {d6t['version']} with enable_cloud_storage('s3', ...), {d6t['python']}:")
        for label, seconds, counts in d6t["rows"]:
            print(f"{label:<{width}}  {seconds:>11.3f}  {'':>9}  {describe(Counter(counts))}")
    else:
        print(f"\nd6tflow itself: skipped ({d6t['skipped']})")
    return {"rows": rows, "d6tflow": d6t, "folders": len(folders), "objects": len(paths)}


# -- d6tflow 0.2.8 itself, in its own interpreter -----------------------------------------------


def d6tflow_status(args: argparse.Namespace, moto: str, proxy: CountingProxy) -> dict[str, Any]:
    python = args.d6tflow_python
    if not python or not os.path.exists(python):
        return {"skipped": f"no d6tflow interpreter at {python}"}
    probe = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util as u; "
            "print(' '.join(m for m in ('d6tflow', 'upath', 's3fs') if u.find_spec(m) is None))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    missing = probe.stdout.split()
    if probe.returncode != 0 or missing:
        names = {"upath": "universal_pathlib", "s3fs": "s3fs", "d6tflow": "d6tflow"}
        what = ", ".join(names[m] for m in missing) or probe.stderr.strip()[-200:]
        return {
            "skipped": f"{python} lacks {what}, which d6tflow.enable_cloud_storage needs "
            "(its targets are upath.UPath objects on s3fs)"
        }
    cmd = [
        python,
        os.path.abspath(__file__),
        "--as-d6tflow",
        "--tasks",
        str(args.tasks),
        "--repeat",
        str(args.repeat),
        "--moto",
        moto,
        "--proxy",
        proxy.url,
    ]
    print(
        f"    running d6tflow: {python} {os.path.basename(__file__)} --as-d6tflow ...", flush=True
    )
    done = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **DUMMY_AWS}, timeout=args.timeout
    )
    last = done.stdout.strip().splitlines()[-1:] or [""]
    if done.returncode != 0 or not last[0].startswith("{"):
        return {"skipped": f"d6tflow run failed ({done.returncode}): {done.stderr.strip()[-800:]}"}
    result: dict[str, Any] = json.loads(last[0])
    result["python"] = python
    return result


def as_d6tflow(args: argparse.Namespace) -> None:
    """Run under d6tflow's interpreter: the same graph with d6tflow 0.2.8 on S3, through the
    proxy (``FSSPEC_S3_ENDPOINT_URL``, the only way to give upath's s3fs an endpoint)."""
    os.environ.update(DUMMY_AWS)
    os.environ["FSSPEC_S3_ENDPOINT_URL"] = args.proxy
    import fsspec.config

    fsspec.config.set_conf_env(fsspec.config.conf)
    with quiet():
        import d6tflow
        import luigi
    from importlib.metadata import version

    d6tflow.settings.execution_summary = False
    d6tflow.enable_cloud_storage("s3", BUCKET, "d6tflow")

    class Leaf(d6tflow.tasks.TaskPickle):
        i = luigi.IntParameter()

        def run(self) -> None:
            self.save(self.i)

    class Join(d6tflow.tasks.TaskPickle):
        n = luigi.IntParameter()

        def requires(self) -> list[Any]:
            return [Leaf(i=i) for i in range(self.n)]

        def run(self) -> None:
            self.save(sum(self.inputLoad()))

    def control(what: str) -> dict[str, int]:
        req = urllib.request.Request(
            f"{args.proxy}{CONTROL}{what}", method="POST" if what == "reset" else "GET"
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    join = Join(n=args.tasks)
    paths = [str(t.output().path) for t in [join, *join.requires()]]
    s3fs_for(args.moto).pipe({p: b"\x80\x04K\x00." for p in paths})
    flow = d6tflow.Workflow(Join, {"n": args.tasks})

    def complete() -> None:
        if not flow.complete():
            raise RuntimeError("d6tflow: Workflow.complete() is False")

    def preview() -> None:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            flow.preview()
        if buf.getvalue().count("COMPLETE") != args.tasks + 1:
            raise RuntimeError(f"d6tflow preview shows {buf.getvalue().count('COMPLETE')} complete")

    def run() -> None:
        with quiet():
            flow.run()

    steps = [("complete()", complete), ("preview()", preview), ("no-op run()", run)]
    rows = []
    for label, fn in steps:
        fn()
        seconds = best_of(args.repeat, fn)
        control("reset")
        fn()
        rows.append((f"d6tflow Workflow.{label}", seconds, control("counts")))
    print(json.dumps({"version": version("d6tflow"), "rows": rows, "objects": len(paths)}))


# -- 2. throughput ------------------------------------------------------------------------------

FRAME: Any = None  # what SaveFrame.run() saves; set before the runs


def make_frame(rows: int, seed: int = 0) -> Any:
    """The same frame bench_parquet.py measures on local disk."""
    from bench_parquet import make_frame as local_frame  # this script's folder is on sys.path

    return local_frame(rows, seed)


def throughput(args: argparse.Namespace, moto: str, proxy: CountingProxy) -> list[Any]:
    import pandas as pd

    global FRAME
    FRAME = df = make_frame(args.rows)
    mb = df.memory_usage(deep=True).sum() / 1e6
    print(
        f"\n[2] throughput: {args.rows:,} rows x {df.shape[1]} columns "
        f"({', '.join(f'{c}:{t}' for c, t in df.dtypes.astype(str).items())}), "
        f"{mb:.0f} MB in memory; best of {args.repeat}, straight to moto"
    )

    def plain(endpoint: str) -> tuple[Callable[[], Any], Callable[[], Any], Callable[[], Any]]:
        url = f"s3://{BUCKET}/plain/{'proxy' if endpoint == proxy.url else 'direct'}.parquet"
        opts = {"endpoint_url": endpoint}
        fs = s3fs_for(moto)

        def rm() -> None:
            with contextlib.suppress(FileNotFoundError):
                fs.rm(url)

        return (
            lambda: df.to_parquet(url, storage_options=opts),
            lambda: pd.read_parquet(url, storage_options=opts),
            rm,
        )

    def flow(endpoint: str) -> d6tflow.Workflow:
        name = "proxy" if endpoint == proxy.url else "direct"
        return d6tflow.Workflow(
            SaveFrame, path=f"s3://{BUCKET}/{name}", storage_options={"endpoint_url": endpoint}
        )

    p_save, p_load, p_rm = plain(moto)
    f = flow(moto)
    f_save, f_load = (lambda: f.run(execution_summary=False)), f.outputLoad

    plain_save = best_of(args.repeat, p_save, p_rm)
    plain_load = best_of(args.repeat, p_load)
    flow_save = best_of(args.repeat, f_save, f.reset)
    flow_load = best_of(args.repeat, f_load)
    size = s3fs_for(moto).size(str(f.outputPath())) / 1e6
    plain_size = s3fs_for(moto).size(f"s3://{BUCKET}/plain/direct.parquet") / 1e6
    loaded = f.outputLoad()
    if not loaded.equals(df):
        print("WARNING: the frame daskflow loaded differs from the one it saved")
    del loaded

    # once more through the proxy, for the request counts
    q_save, q_load, q_rm = plain(proxy.url)
    g = flow(proxy.url)
    q_rm()
    g.reset()
    _, c_plain_save = counted(proxy, q_save)
    _, c_plain_load = counted(proxy, q_load)
    _, c_flow_save = counted(proxy, lambda: g.run(execution_summary=False))
    _, c_flow_load = counted(proxy, g.outputLoad)

    if args.profile:
        f.reset()
        profile("daskflow Workflow.run() (save), straight to moto", f_save, top=22)
        profile("daskflow Workflow.outputLoad(), straight to moto", f_load, top=22)
        profile("pandas read_parquet, straight to moto", p_load, top=22)

    rows = [
        ("pandas  df.to_parquet('s3://...')", plain_save, None, plain_size, c_plain_save),
        ("daskflow Workflow.run() (save)", flow_save, flow_save / plain_save, size, c_flow_save),
        ("pandas  pd.read_parquet('s3://...')", plain_load, None, plain_size, c_plain_load),
        ("daskflow Workflow.outputLoad()", flow_load, flow_load / plain_load, size, c_flow_load),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"\n{'':<{w}}  {'seconds':>8}  {'MB/s':>6}  {'vs plain':>8}  {'file MB':>7}  S3 requests")
    print("-" * (w + 90))
    for label, seconds, ratio, fmb, counts in rows:
        r = f"{ratio:.2f}x" if ratio is not None else ""
        rate = fmb / seconds if seconds else 0
        print(
            f"{label:<{w}}  {seconds:>8.3f}  {rate:>6.0f}  {r:>8}  {fmb:>7.0f}  {describe(counts)}"
        )
    print("(MB/s: the Parquet file's size over the time)")
    return rows


# -- main ---------------------------------------------------------------------------------------


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "?"

    names = [
        "daskflow",
        "dask",
        "pandas",
        "pyarrow",
        "s3fs",
        "fsspec",
        "aiobotocore",
        "botocore",
        "moto",
    ]
    cores = os.cpu_count()
    with contextlib.suppress(AttributeError):
        cores = len(os.sched_getaffinity(0))
    system = f"{platform.system()} {platform.machine()}"
    return (
        " | ".join(f"{n} {v(n)}" for n in names)
        + f"\nPython {platform.python_version()} | {system} | {cores} cores"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=None, help="complete Leaf tasks (default 1000)")
    p.add_argument("--rows", type=int, default=None, help="rows of the frame (default 5,000,000)")
    p.add_argument("--repeat", type=int, default=3, help="best of this many")
    p.add_argument("--quick", action="store_true", help="100 tasks and 500,000 rows")
    p.add_argument("--only", choices=("status", "throughput"), default=None)
    p.add_argument("--profile", action="store_true", help="cProfile each daskflow step once more")
    p.add_argument(
        "--d6tflow-python",
        default=os.environ.get("D6TFLOW_PYTHON", DEFAULT_D6TFLOW_PYTHON),
        help="interpreter with d6tflow 0.2.8 (+ universal_pathlib, s3fs); '' to skip",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds for the d6tflow run")
    p.add_argument("--as-d6tflow", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--moto", help=argparse.SUPPRESS)
    p.add_argument("--proxy", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.tasks is None:
        args.tasks = 100 if args.quick else 1000
    if args.rows is None:
        args.rows = 500_000 if args.quick else 5_000_000
    if args.tasks < 1 or args.rows < 1 or args.repeat < 1:
        p.error("--tasks, --rows and --repeat must be at least 1")
    if args.as_d6tflow:
        as_d6tflow(args)
        return

    os.environ.update(DUMMY_AWS)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally blocks run
    d6tflow.settings.execution_summary = False
    print(versions())
    with moto_server() as moto:
        proxy = CountingProxy(moto)
        try:
            print(f"moto_server at {moto} | counting proxy at {proxy.url} | bucket s3://{BUCKET}")
            s3fs_for(moto).mkdir(BUCKET)
            if args.only in (None, "status"):
                status_pass(args, moto, proxy)
            if args.only in (None, "throughput"):
                throughput(args, moto, proxy)
        finally:
            proxy.close()


if __name__ == "__main__":
    main()
