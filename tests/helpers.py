"""Shared test helpers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

LOG_NAME = ".runlog"


def is_manifest(path) -> bool:
    """A provenance manifest daskflow writes beside a task's outputs
    (``.{task_id}.{code}.{inputs}.{commit}.manifest``)."""
    parts = os.fspath(path).replace("\\", "/").rstrip("/").split("/")
    return parts[-1] == ".manifests" or ".manifests" in parts[:-1]


class RunLog:
    """A list of strings kept in a file in the working directory, so that tasks running in
    forked or spawned worker processes can record what they did. Each test runs in its own
    temporary working directory (see conftest), so each test has its own log."""

    def append(self, item: str) -> None:
        if "\n" in item:
            raise ValueError("one line per entry")
        fd = os.open(LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (item + "\n").encode())
        finally:
            os.close(fd)

    def _items(self) -> list[str]:
        try:
            with open(LOG_NAME) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(LOG_NAME)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __getitem__(self, i):
        return self._items()[i]

    def __contains__(self, item: object) -> bool:
        return item in self._items()

    def __eq__(self, other: object) -> bool:
        return self._items() == list(other)  # type: ignore[call-overload]

    def count(self, item: str) -> int:
        return self._items().count(item)

    def __repr__(self) -> str:
        return f"RunLog({self._items()!r})"


# -- S3 on a local moto server (fixtures in conftest.py) ---------------------------------------

S3_DUMMY_KEY = "daskflow-test-key"
S3_DUMMY_SECRET = "daskflow-test-secret"


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on (at the moment of asking)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def moto_command(port: int) -> list[str]:
    """How to start ``moto_server`` on 127.0.0.1:``port`` with this interpreter's moto."""
    import shutil
    import sys

    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.path.exists(exe):
        exe = shutil.which("moto_server") or ""
    if exe:
        return [exe, "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


def moto_post(endpoint: str, path: str, body: bytes = b"") -> bytes:
    """POST to moto's own API: ``/moto-api/reset`` (forget every bucket, user, ...),
    ``/moto-api/reset-auth`` with ``b"0"`` (check credentials from now on) or ``b"inf"``
    (never check them, moto's default)."""
    import urllib.request

    request = urllib.request.Request(
        endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()  # type: ignore[no-any-return]


class MotoServer:
    """A running ``moto_server`` process: its ``endpoint`` and its log file."""

    def __init__(self, endpoint: str, process, log_path) -> None:
        self.endpoint = endpoint
        self.process = process
        self.log_path = log_path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the server; kill it if it does not exit in time."""
        import subprocess

        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


_aio_session = None


def _shared_aio_session():
    """One aiobotocore session for the test's own s3fs filesystems: it parses botocore's
    service models once, not once per test."""
    global _aio_session
    if _aio_session is None:
        import aiobotocore.session

        _aio_session = aiobotocore.session.AioSession()
    return _aio_session


class S3Bucket:
    """A bucket on the moto server, and the s3:// root daskflow writes under (``url``).

    ``fs`` is an s3fs filesystem of the test's own (no instance cache, no listing cache),
    talking to moto directly, to look at the bucket behind daskflow's back.
    """

    def __init__(self, endpoint: str, bucket: str, prefix: str = "prefix") -> None:
        import s3fs

        self.endpoint = endpoint
        self.bucket = bucket
        self.prefix = prefix
        self.url = f"s3://{bucket}/{prefix}"
        self.storage_options = {"client_kwargs": {"endpoint_url": endpoint}}
        self.fs = s3fs.S3FileSystem(
            skip_instance_cache=True,
            use_listings_cache=False,
            session=_shared_aio_session(),
            **self.storage_options,
        )

    def key(self, url: object) -> str:
        """The object key of ``s3://{bucket}/{key}``."""
        head = f"s3://{self.bucket}/"
        text = str(url)
        if not text.startswith(head):
            raise AssertionError(f"{text} is not in {head}")
        return text[len(head) :]

    def objects(self, under: str = "") -> list[str]:
        """The keys of every object in the bucket (under the key prefix ``under``)."""
        root = f"{self.bucket}/{under}".rstrip("/")
        try:
            found = self.fs.find(root)
        except FileNotFoundError:
            return []
        return sorted(k.split("/", 1)[1] for k in found if not is_manifest(k))

    def read(self, key: str) -> bytes:
        return self.fs.cat_file(f"{self.bucket}/{key}")  # type: ignore[no-any-return]

    def write(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.bucket}/{key}", data)


def iam_user(endpoint: str, deny_put: tuple[str, ...] = ()) -> dict[str, str]:
    """A new IAM user on the moto server allowed every S3 action except PutObject on the
    ``deny_put`` ARNs-without-prefix (``bucket/key``); its ``{"key", "secret"}``. Create it
    while moto does not check credentials (before ``reset-auth`` ``0``)."""
    import json
    import uuid

    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    name = f"daskflow-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    statements: list[dict[str, object]] = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
    if deny_put:
        statements.append(
            {
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": [f"arn:aws:s3:::{k}" for k in deny_put],
            }
        )
    iam.put_user_policy(
        UserName=name,
        PolicyName="s3",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    created = iam.create_access_key(UserName=name)["AccessKey"]
    return {"key": created["AccessKeyId"], "secret": created["SecretAccessKey"]}


class StrippingProxy:
    """An HTTP proxy on 127.0.0.1 in front of an S3 endpoint that drops conditional-write
    headers (``If-None-Match``, ``If-Match``), as some S3-compatible gateways do: a put
    through it always overwrites. ``endpoint`` is its URL; use it as a context manager."""

    DROPPED = ("if-none-match", "if-match")

    def __init__(self, upstream: str) -> None:
        import http.client
        import http.server
        import threading
        import urllib.parse

        target = urllib.parse.urlsplit(upstream)
        dropped = self.DROPPED

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                finally:
                    conn.close()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StrippingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
