"""Racers on dead leases: ``python lease_racers.py ROOT RACERS TRIALS`` prints one JSON line:
the trials two racers won (``double``: ``{trial: [racers]}``) and some that nobody won.

For each trial the leases of a task whose holder is gone (a lease file of a process that no
longer runs, its lock free) wait under ROOT; RACERS processes, released together by a
barrier, each try to take it at once (``lease_wait = 0``: who finds it held gives up). A
winner keeps its lease to the end, so a second winner would be a second holder at the same
time. Of the trials, one in three has an empty dead lease (its holder was killed while it
wrote it), one in three a cut-short renewal's state (a leftover beside it), and one in four
no lease at all: the racers all create it at once."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sys
import time


def _dead_pid() -> int:
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    child.start()
    child.join()
    return int(child.pid or 0)


def prepare(root: str, trials: int) -> None:
    from daskflow.leases import Holder, lease_name

    pid = _dead_pid()
    for i in range(trials):
        folder = f"{root}/T{i}"
        os.makedirs(folder, exist_ok=True)
        path = f"{folder}/{lease_name(f'T{i}')}"
        if i % 4 == 3:
            continue  # no lease yet: the racers all create it at once
        holder = Holder(f"T{i}", "dead-run", socket.gethostname(), pid, 0.0, 1e12, "dead")
        with open(path, "wb") as f:
            f.write(b"" if i % 3 == 1 else holder.text())
        if i % 3 == 2:
            with open(f"{path}.0a1b2c3d", "wb") as f:
                f.write(holder.text())


def race(root: str, trials: int, barrier: object, out: str) -> None:
    import logging

    from daskflow import leases, settings
    from daskflow.targets import Target

    logging.getLogger("daskflow").setLevel(logging.ERROR)  # (each takeover says so)
    settings.lease_wait = 0
    won = []
    kept = []
    for i in range(trials):
        barrier.wait(timeout=60)  # type: ignore[attr-defined]
        target = Target(f"{root}/T{i}/data.pkl", "pickle")
        try:
            lease = leases.take(f"T{i}", [target], run=f"racer-{os.getpid()}")
        except leases.LeaseError:
            continue
        if isinstance(lease, leases.Lease):
            lease.confirm()  # (it holds it, as far as it can tell)
            won.append(i)
            kept.append(lease)
    with open(out, "w") as f:
        json.dump(won, f)
    barrier.wait(timeout=60)  # type: ignore[attr-defined]  # every racer holds its own still


def main() -> None:
    root, racers, trials = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    prepare(root, trials)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(racers)
    outs = [f"{root}/won-{n}.json" for n in range(racers)]
    procs = [ctx.Process(target=race, args=(root, trials, barrier, o)) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
        if p.exitcode != 0:
            raise SystemExit(f"a racer ended with {p.exitcode}")
    winners: dict[int, list[int]] = {}
    for n, out in enumerate(outs):
        with open(out) as f:
            for i in json.load(f):
                winners.setdefault(i, []).append(n)
    double = {i: w for i, w in winners.items() if len(w) > 1}
    nobody = [i for i in range(trials) if i not in winners]
    print(json.dumps({"trials": trials, "double": double, "nobody": nobody[:20]}))


if __name__ == "__main__":
    main()
