"""Running flowzip's work on a Dask cluster (``--scheduler ADDRESS``, or Dask's ``DASK_SCHEDULER_ADDRESS``).

Imported only when a scheduler is named; it needs the optional ``distributed`` package (``pip install
'flowzip[dask]'``). The work is split into batches of items (files to code, images to measure), each batch one
task; a worker runs the same functions a local run does, so the bytes are the same, and loads a model once
(``flowzip.learned.zoo.load_model`` caches it in the worker's process). Workers read and write files
themselves, so they need the paths the client names (a ``LocalCluster``, or a shared file system). A task of a
worker that dies is run again by the scheduler on another; a file it wrote whole is then found identical and
not written again (``batch.write_atomic``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

from flowzip.errors import FlowzipError

Item = TypeVar("Item")
Out = TypeVar("Out")
# Batches in flight per worker thread: enough to keep every thread busy while results come back, few enough that
# a long run does not hold its whole input in the scheduler's memory.
_IN_FLIGHT_PER_THREAD = 4


def _run_batch(function: Callable[[Item], Out], batch: list[Item]) -> list[Out]:
    return [function(item) for item in batch]


# A task's share of the work: files (or images) are grouped until they hold this much (bytes of input files, or
# subpixels of images) or are this many. A task costs Dask more than coding a 32x32 image takes, so those go 16
# a task; a 256x256 photo's PNG (about 170 KB) goes 2 a task, a larger photo alone, so that the last tasks
# still spread over the workers (benchmarks/cluster.py measures both sizes).
TASK_BUDGET = 256 << 10
TASK_MOST = 16


def batches(items: Iterable[Item], cost: Callable[[Item], int] | None) -> Iterator[list[Item]]:
    """``items`` in consecutive lists whose ``cost`` adds up to ``TASK_BUDGET`` (the item that reaches it ends
    its list) and that hold at most ``TASK_MOST``; one item a list without ``cost``."""
    batch, spent = [], 0
    for item in items:
        batch.append(item)
        spent += cost(item) if cost is not None else TASK_BUDGET
        if spent >= TASK_BUDGET or len(batch) == TASK_MOST:
            yield batch
            batch, spent = [], 0
    if batch:
        yield batch


def map_on_cluster(
    function: Callable[[Item], Out],
    items: Iterable[Item],
    address: str,
    failed: Callable[[Item, str], Out],
    cost: Callable[[Item], int] | None = None,
    ordered: bool = False,
) -> Iterator[tuple[int, Out]]:
    """``function`` of each of ``items`` on the cluster at ``address``, in tasks of several items by their
    ``cost`` (``batches``), as (index, result) in the order they finish, or with ``ordered`` in the items'
    order. The items of a task that raised, or that did not finish (its workers died each time the scheduler
    tried it), get ``failed(item, why)``."""
    results = _map(function, batches(items, cost), address, failed)
    return _in_order(results) if ordered else results


def _in_order(results: Iterator[tuple[int, Out]]) -> Iterator[tuple[int, Out]]:
    """(index, result) pairs that come in any order, given back in the order of their indices (0, 1, 2...)."""
    waiting: dict[int, Out] = {}
    following = 0
    for index, result in results:
        waiting[index] = result
        while following in waiting:
            yield following, waiting.pop(following)
            following += 1


def _map(
    function: Callable[[Item], Out],
    tasks: Iterator[list[Item]],
    address: str,
    failed: Callable[[Item, str], Out],
) -> Iterator[tuple[int, Out]]:
    """(index, result) of every item of every task, by task as they finish, at most a few tasks a worker thread
    submitted at once."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise FlowzipError("--scheduler needs the optional package distributed: pip install 'flowzip[dask]'") from None
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise FlowzipError(f"cannot reach the Dask scheduler at {address} ({e})") from None
    with client:
        submitted: dict[object, tuple[int, list[Item]]] = {}
        finished = as_completed(loop=client.loop)
        first = 0  # the index of the next task's first item

        def submit(count: int) -> None:
            nonlocal first
            for batch in islice(tasks, count):
                future = client.submit(_run_batch, function, batch, pure=False)
                submitted[future] = first, batch
                finished.add(future)
                first += len(batch)

        submit(max(1, sum(client.nthreads().values())) * _IN_FLIGHT_PER_THREAD)
        for future in finished:
            start, batch = submitted.pop(future)
            try:
                results = future.result()
            except FlowzipError as e:
                results = [failed(item, str(e)) for item in batch]
            except Exception as e:  # KilledWorker after repeated deaths, or the cluster went away
                results = [failed(item, f"the Dask cluster could not run it ({type(e).__name__})") for item in batch]
            yield from enumerate(results, start)
            submit(1)
