"""Running on a ``dask.distributed`` cluster: the get-function, and reaching a scheduler.

Every wait on a cluster is bounded: connecting to an address first completes a handshake of
its own within ``settings.connect_timeout`` (distributed waits for the handshake without one),
and a scheduler lost while a run is under way becomes a :class:`ClusterError` on the nodes
that had no result, so the run still returns. ``distributed`` is imported inside the
functions that use it: importing daskflow loads no Dask.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import settings
from .errors import ClusterError, mask
from .runtime import DONE, FAILED, UPSTREAM_FAILED, report

__all__ = ["get_distributed", "threads"]

Done = Callable[[str, str], None]  # (key, how its node ended: see schedulers.Done)


def _nothing(key: str, state: str) -> None:
    pass


Grow = Callable[[str, Any], "tuple[Any, list[str]] | None"]
"""Called with each node's key and result (or Dask's error for it) as it finishes; returns
more graph to run (whose nodes may name keys already sent) and its keys, or None."""


def get_distributed(
    dsk: Any, keys: list[str], done: Done = _nothing, client: Any = None, grow: Grow | None = None
) -> list[Any]:
    """Run the graph on the cluster of ``client``; a node Dask could not run (a worker lost
    too often, a result it could not move) gives the exception Dask reported for it, and
    every node without a result when the scheduler goes away mid-run a
    :class:`~daskflow.errors.ClusterError` saying so, so the run still returns.

    With ``grow``, the graph may grow as nodes finish (:data:`Grow`): the results are those of
    ``keys``, then of the keys ``grow`` gave, in order."""
    _workers_for(client, _needs(dsk), float(settings.worker_wait))
    sent = _Sent(client)
    sent.add(dsk, keys)
    results: dict[str, Any] = {}
    lost: BaseException | None = None
    try:
        for batch in _as_done(client, sent):
            # the (small) results of what finished since the last look, in one transfer, so
            # each node is reported as it went: done, or failed in its own node
            finished = [f for f in batch if f.status == "finished"]
            for future, value in zip(finished, client.gather(finished), strict=True):
                results[future.key] = value
                report(done, future.key, value)
            for future in batch:
                if future.status == "error":
                    results[future.key] = future.exception()
                    done(future.key, _erred(sent.graph, future.key, results))
                elif future.status != "finished":  # cancelled: the scheduler went away
                    results[future.key] = lost = lost or _lost(client, future.status)
            if grow is not None and lost is None:
                for future in batch:
                    more = grow(future.key, results[future.key])
                    if more is not None:
                        sent.add(*more, results)
    except Exception as e:  # the connection to the scheduler broke
        lost = _lost(client, f"{type(e).__name__}: {e}")
        lost.__cause__ = e
    finally:
        with contextlib.suppress(Exception):
            for future in sent.futures.values():
                future.release()
    return [results.get(k, lost) for k in sent.keys]


class _Sent:
    """What a run has sent to the cluster: the futures by key, in order, and the graph."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.futures: dict[str, Any] = {}
        self.keys: list[str] = []
        self.graph: dict[str, Any] = {}
        self.new: list[Any] = []  # futures not yet looked at by _as_done

    def add(self, dsk: Any, keys: list[str], results: dict[str, Any] | None = None) -> None:
        """Send ``dsk``; its nodes may name keys sent before, whose futures stand in for them.
        One that asks for resources no worker has gets the error saying so in ``results``."""
        self.keys.extend(keys)
        self.graph.update(_flat(dsk))
        if results is not None and _needs(dsk):
            try:
                _workers_for(self.client, _needs(dsk), float(settings.worker_wait))
            except ClusterError as e:
                results.update(dict.fromkeys(keys, e))
                return
        futures = self.client.get(_unnamed(_linked(dsk, self.futures)), keys, sync=False)
        self.futures.update(zip(keys, futures, strict=True))
        self.new.extend(futures)


def _flat(dsk: Any) -> dict[str, Any]:
    if hasattr(dsk, "layers"):
        return {k: v for layer in dsk.layers.values() for k, v in layer.items()}
    return dict(dsk)


def _linked(dsk: Any, futures: Mapping[str, Any]) -> Any:
    """``dsk`` (nodes ``(fn, [upstream keys])``) with each key sent before replaced by its
    future: Dask takes a future in a graph as a dependency on what is already on the cluster."""

    def link(part: Mapping[str, Any]) -> dict[str, Any]:
        return {
            k: (fn, [futures.get(u, u) for u in ups], *rest) for k, (fn, ups, *rest) in part.items()
        }

    if not futures:
        return dsk
    if not hasattr(dsk, "layers"):
        return link(dsk)
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    layers = {
        name: MaterializedLayer(link(layer), annotations=getattr(layer, "annotations", None))
        for name, layer in dsk.layers.items()
    }
    return HighLevelGraph(layers, {name: set() for name in layers})


POLL = (0.005, 0.25)  # seconds between looks at the futures: the first, and the longest
# (unless there are many)


def _needs(dsk: Any) -> dict[tuple[tuple[str, float], ...], str]:
    """The sets of worker resources the graph's nodes ask for (its layers' annotations), each
    with a key that asks for it."""
    out: dict[tuple[tuple[str, float], ...], str] = {}
    for layer in getattr(dsk, "layers", {}).values():
        res = (getattr(layer, "annotations", None) or {}).get("resources")
        if res:
            out.setdefault(tuple(sorted(res.items())), next(iter(layer), "?"))
    return out


def _workers(client: Any) -> dict[str, Any]:
    try:
        info = client.scheduler_info(n_workers=-1)  # (by default, only the first few)
    except TypeError:  # an older distributed
        info = client.scheduler_info()
    return dict(info.get("workers") or {})


def threads(client: Any) -> int:
    """How many tasks the cluster of ``client`` runs at once: its workers' threads (at least
    1: a cluster that has none yet may be starting them)."""
    try:
        return max(1, sum(int(w.get("nthreads") or 1) for w in _workers(client).values()))
    except Exception:
        return 1


def _workers_for(client: Any, needs: dict[tuple[tuple[str, float], ...], str], wait: float) -> None:
    """Return once the cluster has a worker, and for each set of ``needs`` a worker with
    those resources; else :class:`ClusterError` after ``wait`` seconds naming what is
    missing (Dask itself would wait for them for ever)."""
    where = getattr(client.scheduler, "address", "the cluster")
    deadline = time.monotonic() + wait
    pause = 0.05
    while True:
        workers = _workers(client)
        offered = [dict(w.get("resources") or {}) for w in workers.values()]
        missing = [
            (res, key)
            for res, key in needs.items()
            if not any(all(o.get(r, 0) >= n for r, n in res) for o in offered)
        ]
        if workers and not missing:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
    if not workers:
        raise ClusterError(
            f"the Dask scheduler at {where} has no workers (waited {wait:g} s, "
            "settings.worker_wait); start some (dask worker <scheduler address>) or scale "
            "the cluster up"
        )
    res, key = missing[0]
    wanted = ", ".join(f"{r}={n:g}" for r, n in res)
    have = sorted({", ".join(f"{r}={n:g}" for r, n in o.items()) or "none" for o in offered})
    raise ClusterError(
        f"no worker of the Dask cluster at {where} has the resources {wanted} that {key} "
        f"asks for (waited {wait:g} s, settings.worker_wait); its workers offer: "
        f"{'; '.join(have)}. Start workers with them (dask worker ... --resources "
        f'"{wanted.replace(", ", ",")}") or change the task\'s resources'
    )


def _erred(dsk: Any, key: str, results: dict[str, Any]) -> str:
    """How a node whose future erred ended: not run, when a node upstream of it erred or
    failed first (Dask errs the dependents of an erred future with its exception); else
    failed (its worker died, say)."""
    from dask.core import get_dependencies

    upstream = get_dependencies(dsk, key) if key in dsk else set()
    bad = [u for u in upstream if u in results and getattr(results[u], "state", FAILED) != DONE]
    return UPSTREAM_FAILED if bad else FAILED


def _as_done(client: Any, sent: _Sent) -> Iterator[list[Any]]:
    """The futures ``sent`` as they finish, err or are cancelled (those sent meanwhile too), a
    list per look at their states every so often, not by ``as_completed``: that runs a
    coroutine per future on the client's event loop (the scheduler's too, on a LocalCluster),
    which cost 6-8% of a fan of 5,000. Between looks it waits for the last future sent (a task
    no other one needs, most often the flow's own), so a run ends as soon as that is done."""
    last = threading.Event()
    pending: list[Any] = []
    pause = POLL[0]
    while True:
        if sent.new:
            pending.extend(sent.new)
            last.clear()
            sent.new[-1].add_done_callback(lambda _: last.set())
            sent.new = []
            pause = POLL[0]
        if not pending:
            return
        still, ended = [], []
        for future in pending:
            if future.status in ("pending", "lost"):  # lost: Dask is making it again
                still.append(future)
            else:
                ended.append(future)
        pending = still
        if ended:
            yield ended  # (which may send more)
            continue
        if client.status in ("closing", "closed"):
            raise ConnectionError(f"the client is {client.status}")
        if last.is_set():  # other tasks are left: a flow with several final tasks
            time.sleep(pause)
        else:
            last.wait(pause)
        # a look costs about 0.2 us per pending future: on 100,000, look every 2.5 s
        pause = min(pause * 2, max(POLL[1], len(pending) * 25e-6))


def _unnamed(dsk: Any) -> Any:
    """The graph as Dask's graph expression, named by a random token: handed a plain dict
    (or a HighLevelGraph), ``Client.get`` names it by tokenizing every node's arguments,
    which was the largest part of the client's own time on a fan of 1,000 tasks (its keys
    already make every run's graph unique). The graph itself where this Dask has no such
    expression."""
    try:
        from dask._expr import HLGExpr, LLGExpr
        from dask.highlevelgraph import HighLevelGraph

        kind = HLGExpr if isinstance(dsk, HighLevelGraph) else LLGExpr  # (annotated: an HLG)
        return kind(dsk, _determ_token=uuid.uuid4().hex)
    except (ImportError, TypeError):  # an older or newer Dask: it tokenizes the graph
        return dsk


def _lost(client: Any, why: str) -> ClusterError:
    where = mask(str(getattr(client.scheduler, "address", "the cluster")))
    error = ClusterError(
        f"lost the Dask scheduler at {where} while the run was under way ({why}); outputs "
        "committed before stay, and the next run does the rest"
    )
    error.__suppress_context__ = True  # (Dask's CancelledError tracebacks say nothing more)
    return error


def _active_client() -> Any:
    """The ``distributed.Client`` active in this process (the default one), if any."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:  # no client
        return None


def _is_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")


def check_address(address: str) -> str:
    """``address`` if it reads as a Dask scheduler's address (``tcp://host:port``, or
    ``host:port``), else :class:`ClusterError` saying what is wrong, before any connection.

    >>> check_address("tcp://127.0.0.1:8786")
    'tcp://127.0.0.1:8786'
    >>> check_address("tcp//127.0.0.1:8786")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    daskflow.errors.ClusterError: ... did you mean 'tcp://127.0.0.1:8786'?
    """
    bad = f"{mask(address)!r} is not a Dask scheduler address"
    scheme, sep, rest = address.partition("://")
    if not sep:
        for s in _SCHEMES:
            if address.startswith((f"{s}//", f"{s}:/")) and not address.startswith(f"{s}://"):
                fixed = f"{s}://{address[len(s) :].lstrip(':/')}"
                raise ClusterError(f"{bad}: did you mean {fixed!r}?")
        scheme, rest = "tcp", address
    if scheme not in _SCHEMES:
        raise ClusterError(f"{bad}: unknown protocol {scheme!r} (one of {', '.join(_SCHEMES)})")
    if scheme == "inproc":
        return address
    host, colon, port = rest.rstrip("/").rpartition(":")
    host = host.rpartition("@")[2].strip("[]")  # (after user:password@, if any)
    if not colon or not host:
        raise ClusterError(f"{bad}: expected {scheme}://host:port, e.g. tcp://10.0.0.5:8786")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"{bad}: the port {port!r} is not a number from 1 to 65535")
    labels = host.split(".")
    if len(labels) == 4 and labels[:3] == [x for x in labels[:3] if x.isdigit()]:
        if not all(x.isdigit() and int(x) < 256 for x in labels):
            raise ClusterError(f"{bad}: {host!r} is not an IPv4 address")
    elif ":" not in host and not all(_LABEL.fullmatch(x) for x in labels):
        raise ClusterError(f"{bad}: {host!r} is not a host name")
    return address


_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _connect(address: str) -> Any:
    """A client of the scheduler at ``address``, or a :class:`ClusterError` within
    ``settings.connect_timeout`` seconds: first a handshake of its own under that bound
    (distributed's own connect waits for the handshake without one, so a port that accepts
    and never answers would hang it), then the client."""
    from distributed import Client

    timeout = settings.connect_timeout
    check_address(address)
    try:
        _handshake(address, timeout)
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {mask(address)} within {timeout:g} s "
            f"({type(e).__name__}: {str(e) or 'no answer'}); is it running, and is the address "
            "right?"
        ) from e
    except Exception as e:  # it answered, but not as a Dask scheduler (an SSH banner, ...)
        raise ClusterError(
            f"{mask(address)} answered, but not as a Dask scheduler (what it sent is not "
            "Dask's protocol); is it the scheduler's port (8786 by default)?"
        ) from e


def _handshake(address: str, timeout: float) -> None:
    """Open a Dask comm to ``address`` and close it; TimeoutError if that takes longer than
    ``timeout`` (run on a thread of its own, so it works inside a running event loop too)."""
    import asyncio

    from distributed.comm.core import connect

    async def probe() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="daskflow-probe") as pool:
        pool.submit(asyncio.run, probe()).result(timeout + 5)


def _describe_client(client: Any, address: str | None) -> str:
    where = mask(str(address or getattr(client.scheduler, "address", "a cluster")))
    link = getattr(client, "dashboard_link", None)
    if link and importlib.util.find_spec("bokeh") is None:
        link += ", which needs bokeh: pip install 'daskflow[cluster]'"
    return f"on {where}" + (f" (dashboard: {link})" if link else "")
