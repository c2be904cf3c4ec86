"""The Dask executor on a LocalCluster gives the same results.csv bytes as the local executors."""

import io

import pytest

from hwsim.sweep.driver import run_sweep
from hwsim.sweep.executors import DaskExecutor, LocalExecutor
from tests.sweep.helpers import graph_files, request

distributed = pytest.importorskip("distributed", reason="the Dask executor needs dask[distributed]")


def test_dask_and_local_give_identical_files(tmp_path):
    graphs = graph_files(tmp_path / "graphs")
    run_sweep(request(graphs, tmp_path / "local"), LocalExecutor(1), io.StringIO())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        outcome = run_sweep(request(graphs, tmp_path / "dask"), DaskExecutor(cluster.scheduler_address, 2),
                            io.StringIO())
    assert outcome.ran == len(outcome.rows) + 4  # every point, and one zero-spill search per curve
    for name in ("results.csv", "summary.json"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_unreachable_scheduler_is_a_user_error_before_any_file(tmp_path):
    from hwsim.errors import UserError

    graphs = graph_files(tmp_path / "graphs")
    with pytest.raises(UserError, match="cannot reach the Dask scheduler") as info:
        run_sweep(request(graphs, tmp_path / "out"), DaskExecutor("tcp://127.0.0.1:9", 2, connect_timeout_s=1),
                  io.StringIO())
    assert info.value.where == "--scheduler"
    assert not (tmp_path / "out").exists()
