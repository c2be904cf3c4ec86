"""Where sweep work runs: this process, a local process pool, or a Dask cluster.

Every executor takes the graphs once (by id) and a list of :class:`Call` (a module-level
function, the id of the graph it takes first, the other arguments, and a tag), and yields
``(tag, result)`` as each call finishes, in completion order. The caller sorts; results
do not depend on where or in which order calls ran.

* :class:`LocalExecutor` (``--jobs N``, default all cores): ``jobs == 1`` runs the calls
  in this process, in order; more uses a :class:`~concurrent.futures.ProcessPoolExecutor`.
  Each graph is pickled once here and handed to each worker once, when it starts; a worker
  unpickles a graph the first time a call needs it and keeps it (``_WORKER_GRAPHS``, the one
  piece of per-process state: it lives in the worker processes only), so its memoised
  derived data (layer needs, costs, orders: ``Graph.memo``) serve every later call there
  rather than being worked out again per point. Workers die with this process however
  it ends (on Linux the kernel kills them, ``PR_SET_PDEATHSIG``; elsewhere a thread in each
  watches its parent), ignore Ctrl-C (it reaches the whole process group: this process
  stops the pool), and are terminated when the run stops early. A worker that dies (killed,
  out of memory) ends the run with a UserError, the finished points kept.
* :class:`DaskExecutor` (``--executor dask [--scheduler ADDRESS]``): the graphs are
  scattered to every worker once, calls are ``client.submit`` tasks. Without an address a
  ``LocalCluster`` of ``jobs`` single-threaded worker processes is started. Workers need
  hwsim installed. Needs the ``dask[distributed]`` package (the ``dask`` extra).

``check()`` raises a UserError when the executor cannot run (Dask not installed, scheduler
unreachable), so that the caller can fail before writing anything. Stopping early (an
interrupt, an error in the caller): closing the generator cancels every call not started yet.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from hwsim.errors import UserError
from hwsim.graph.ir import Graph


@dataclass(frozen=True)
class Call:
    tag: str  # returned with the result
    fn: Callable[..., Any]  # module-level, so that it pickles: fn(graph, *args)
    graph: str  # id in the graphs mapping
    args: tuple = ()


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_WORKER_GRAPHS: dict[str, Any] = {}  # in a pool worker: graph id -> pickled bytes, then the Graph


def _call_cached(fn: Callable[..., Any], graph: str, args: tuple) -> Any:
    """In a pool worker: ``fn`` on the worker's copy of graph ``graph`` (unpickled on first use)."""
    held = _WORKER_GRAPHS[graph]
    if isinstance(held, bytes):
        held = _WORKER_GRAPHS[graph] = pickle.loads(held)
    return fn(held, *args)


_PR_SET_PDEATHSIG = 1


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _worker_start(parent: int, blobs: Mapping[str, bytes] | None = None) -> None:
    """Pool initializer: die with ``parent`` (the sweep's process), leave Ctrl-C to it; keep the
    sweep's pickled graphs."""
    _WORKER_GRAPHS.clear()
    _WORKER_GRAPHS.update(blobs or {})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler, inherited by fork
    linked = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            linked = ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    if os.getppid() != parent:  # the parent died before the link was made
        os._exit(1)
    if not linked:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's processes now (Python 3.11 has no public way: its process table)."""
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()


@dataclass(frozen=True)
class LocalExecutor:
    jobs: int

    def check(self) -> None:
        """Nothing to check: this machine is there."""

    def run(self, graphs: Mapping[str, Graph], calls: Sequence[Call]) -> Iterator[tuple[str, Any]]:
        if self.jobs <= 1 or len(calls) <= 1:
            for call in calls:
                yield call.tag, call.fn(graphs[call.graph], *call.args)
            return
        blobs = {gid: pickle.dumps(g, protocol=pickle.HIGHEST_PROTOCOL) for gid, g in graphs.items()}
        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(calls)), initializer=_worker_start,
                                   initargs=(os.getpid(), blobs))
        finished = False
        try:
            pending = {pool.submit(_call_cached, c.fn, c.graph, c.args): c.tag for c in calls}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: pending[f]):
                    yield pending.pop(future), future.result()
            finished = True
        except BrokenProcessPool:
            raise UserError("a sweep worker process died (killed, or out of memory?); the points finished "
                            "before are kept: rerun with --resume") from None
        finally:
            if not finished:  # interrupted, or the caller stopped early: no point in waiting for them
                _stop_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)


def _dask():
    try:
        import distributed
    except ImportError:
        raise UserError("the Dask executor needs dask[distributed]: pip install 'hwsim[dask]'",
                        "--executor") from None
    return distributed


@dataclass(frozen=True)
class DaskExecutor:
    address: str | None  # a running scheduler (tcp://host:8786); None: a LocalCluster here
    jobs: int
    connect_timeout_s: float = 10.0

    def _client(self, stack: contextlib.ExitStack, distributed):
        if self.address is None:
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=self.jobs, threads_per_worker=1, dashboard_address=None))
            return stack.enter_context(distributed.Client(cluster))
        try:
            return stack.enter_context(distributed.Client(self.address, timeout=self.connect_timeout_s))
        except (OSError, TimeoutError) as err:
            raise UserError(f"cannot reach the Dask scheduler {self.address}: {err}", "--scheduler") from None

    def check(self) -> None:
        """Raise a UserError now (before any file is written) if Dask or the scheduler is missing."""
        distributed = _dask()
        if self.address is not None:
            with contextlib.ExitStack() as stack:
                self._client(stack, distributed)

    def run(self, graphs: Mapping[str, Graph], calls: Sequence[Call]) -> Iterator[tuple[str, Any]]:
        if not calls:
            return
        distributed = _dask()
        with contextlib.ExitStack() as stack:
            client = self._client(stack, distributed)
            ids = sorted(graphs)
            scattered = dict(zip(ids, client.scatter([graphs[i] for i in ids], broadcast=True, hash=False)))
            futures = {client.submit(c.fn, scattered[c.graph], *c.args, pure=False): c.tag for c in calls}
            try:
                for future in distributed.as_completed(futures):
                    yield futures[future], future.result()
            finally:
                client.cancel(list(futures))
