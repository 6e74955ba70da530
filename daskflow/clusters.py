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
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from . import settings
from .errors import ClusterError
from .runtime import DONE

__all__ = ["get_distributed"]

Done = Callable[[str, bool], None]


def _nothing(key: str, ok: bool) -> None:
    pass


def get_distributed(
    dsk: Any, keys: list[str], done: Done = _nothing, client: Any = None
) -> list[Any]:
    """Run the graph on the cluster of ``client``; a node Dask could not run (a worker lost
    too often, a result it could not move) gives the exception Dask reported for it, and
    every node without a result when the scheduler goes away mid-run a
    :class:`~daskflow.errors.ClusterError` saying so, so the run still returns."""
    futures = client.get(_unnamed(dsk), keys, sync=False)
    results: dict[str, Any] = {}
    lost: BaseException | None = None
    try:
        for batch in _as_done(client, futures):
            # the (small) results of what finished since the last look, in one transfer, so
            # each node is reported as it went: done, or failed in its own node
            finished = [f for f in batch if f.status == "finished"]
            for future, value in zip(finished, client.gather(finished), strict=True):
                results[future.key] = value
                done(future.key, getattr(value, "state", None) == DONE)
            for future in batch:
                if future.status == "error":
                    results[future.key] = future.exception()
                    done(future.key, False)
                elif future.status != "finished":  # cancelled: the scheduler went away
                    results[future.key] = lost = lost or _lost(client, future.status)
    except Exception as e:  # the connection to the scheduler broke
        lost = _lost(client, f"{type(e).__name__}: {e}")
        lost.__cause__ = e
    finally:
        with contextlib.suppress(Exception):
            for future in futures:
                future.release()
    return [results.get(k, lost) for k in keys]


POLL = (0.005, 0.25)  # seconds between looks at the futures: the first, and the longest
# (unless there are many)


def _as_done(client: Any, futures: list[Any]) -> Iterator[list[Any]]:
    """The futures as they finish, err or are cancelled, a list per look at their states
    every so often, not by ``as_completed``: that runs a coroutine per future on the
    client's event loop (the scheduler's too, on a LocalCluster), which cost 6-8% of a fan
    of 5,000. Between looks it waits for the last future (a task no other one needs, most
    often the flow's own), so a run ends as soon as that is done."""
    last = threading.Event()
    if futures:
        futures[-1].add_done_callback(lambda _: last.set())
    pending = list(futures)
    pause = POLL[0]
    while pending:
        still, ended = [], []
        for future in pending:
            if future.status in ("pending", "lost"):  # lost: Dask is making it again
                still.append(future)
            else:
                ended.append(future)
        if ended:
            yield ended
        pending = still
        if pending:
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
    where = getattr(client.scheduler, "address", "the cluster")
    return ClusterError(
        f"lost the Dask scheduler at {where} while the run was under way ({why}); outputs "
        "committed before stay, and the next run does the rest"
    )


def _active_client() -> Any:
    if "distributed" not in sys.modules:
        return None
    from distributed.client import _get_global_client

    return _get_global_client()


def _is_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


def _connect(address: str) -> Any:
    """A client of the scheduler at ``address``, or a :class:`ClusterError` within
    ``settings.connect_timeout`` seconds: first a handshake of its own under that bound
    (distributed's own connect waits for the handshake without one, so a port that accepts
    and never answers would hang it), then the client."""
    from distributed import Client

    timeout = settings.connect_timeout
    try:
        _handshake(address, timeout)
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
            f"({type(e).__name__}: {str(e) or 'no answer'}); is it running, and is the address "
            "right?"
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
    where = address or getattr(client.scheduler, "address", "a cluster")
    link = getattr(client, "dashboard_link", None)
    if link and importlib.util.find_spec("bokeh") is None:
        link += ", which needs bokeh: pip install 'daskflow[cluster]'"
    return f"on {where}" + (f" (dashboard: {link})" if link else "")
