"""Racing OS processes against one store: each racer is a fresh interpreter (spawn) with its own store
connection, all released at the same instant; their results come back through a queue."""
from __future__ import annotations

import multiprocessing as mp
import typing as t


def race(target: t.Callable[..., None], db_url: str, racers: int, timeout: float = 240) -> list[t.Any]:
    """Run ``target(db_url, n, start, out)`` for n in 0..racers-1 at once; every racer puts one result on ``out``."""
    ctx = mp.get_context("spawn")  # fresh interpreters: nothing shared but the store
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(db_url, n, start, out)) for n in range(racers)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=timeout) for _racer in procs]
    for p in procs:
        p.join(timeout=60)
    return results
