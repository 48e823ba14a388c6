"""Coding and measuring on a Dask cluster: the same bytes and table as a local run, and nothing lost or written
twice when a worker dies."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import flowzip
from flowzip.frontends.batch import Result, Task, compress_file, run_tasks
from flowzip.frontends.bench import bench, reference_codec
from flowzip.learned.zoo import Model

from conftest import make_image

distributed = pytest.importorskip("distributed", reason="the optional dask[distributed] is not installed")
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A LocalCluster of 2 worker processes of one thread each, as ``dask worker`` starts them."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "in" / "sub"
    folder.mkdir(parents=True)
    for k in range(6):
        kind = ("photo", "gradient", "few-colours")[k % 3]
        Image.fromarray(make_image(kind, 20 + k, 30, seed=k)).save(folder / f"{k}.png")
    Image.fromarray(make_image("photo", 16, 16, channels=1)[:, :, 0]).save(folder / "grey.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return tmp_path / "in"


def _flowzip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flowzip", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compress_and_decompress_r_on_a_cluster_write_what_a_local_run_writes(
    images: Path, scheduler: str, tiny_model_path: Path
) -> None:
    model = ("--model", str(tiny_model_path))
    local = _flowzip("compress", "-r", "in", "--out-dir", "local", *model, cwd=images.parent)
    remote = _flowzip(
        "compress", "-r", "in", "--out-dir", "remote", "--scheduler", scheduler, *model, cwd=images.parent
    )
    assert local.returncode == remote.returncode == 1  # broken.png: one line, and the others go on
    for r in (local, remote):
        assert "in/sub/broken.png: not a readable image" in r.stderr and "Traceback" not in r.stderr
        assert "7 files" in r.stderr and "1 failed" in r.stderr
    assert _files(images.parent / "remote") == _files(images.parent / "local") != {}
    back = _flowzip("decompress", "-r", "remote", "--scheduler", scheduler, *model, cwd=images.parent)
    assert back.returncode == 0, back.stderr
    for name in ("0", "4", "grey"):
        with (
            Image.open(images / "sub" / f"{name}.png") as a,
            Image.open(images.parent / "remote/sub" / f"{name}.png") as b,
        ):
            assert np.array_equal(np.asarray(a), np.asarray(b))
    test = _flowzip("test", "-r", "remote", "--scheduler", scheduler, *model, cwd=images.parent)
    assert test.returncode == 0 and "7 files, " in test.stderr


def test_the_environment_variable_names_the_scheduler(images: Path, scheduler: str, tiny_model_path: Path) -> None:
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": scheduler}
    r = subprocess.run(
        [sys.executable, "-m", "flowzip", "compress", "in/sub/0.png", "-o", "x.fzi", "--model", str(tiny_model_path)],
        cwd=images.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert (images.parent / "x.fzi").exists()


def test_bench_on_a_cluster_gives_the_local_table(scheduler: str, tiny_model: Model) -> None:
    images = [(f"img{k}", make_image("photo", 12 + k, 16, seed=k)) for k in range(5)]
    local = bench(iter(images), tiny_model, [reference_codec("png")])
    remote = bench(iter(images), tiny_model, [reference_codec("png")], scheduler=scheduler)

    def sizes(result: object) -> list[dict]:
        return [{k: v for k, v in row.items() if not k.endswith("seconds")} for row in result.per_image]

    assert sizes(remote) == sizes(local) and [r["name"] for r in remote.per_image] == [n for n, _ in images]
    assert remote.markdown().split("\n")[0] == local.markdown().split("\n")[0]


def _dies_once(task: Task) -> Result:
    """Kill this worker the first time file 0 comes to it (before its output is written) and the first time
    file 1 does (just after): the scheduler runs the task again on a worker that lives."""
    marker = Path(task.target + ".died")
    if Path(task.source).stem in ("0", "1") and not marker.exists():
        marker.touch()
        if Path(task.source).stem == "1":
            compress_file(task)
        os._exit(1)
    return compress_file(task)


def test_a_worker_that_dies_loses_nothing_and_writes_nothing_twice(
    images: Path, scheduler: str, tiny_model_path: Path
) -> None:
    sources = sorted((images / "sub").glob("[0-9].png"))[:4]
    out = images.parent / "out"
    out.mkdir()
    tasks = [Task(str(p), str(out / f"{p.stem}.fzi"), False, str(tiny_model_path)) for p in sources]
    assert run_tasks(_dies_once, tasks, 2, -1, scheduler) == 0
    assert sorted(p.name for p in out.glob("*.died")) == ["0.fzi.died", "1.fzi.died"], "the workers died"
    written = sorted(p.name for p in out.iterdir() if p.suffix == ".fzi")
    assert written == sorted(f"{p.stem}.fzi" for p in sources)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")], "no temporary file is left behind"
    for task in tasks:  # each output is whole: it decodes to its input
        with Image.open(task.source) as original:
            restored = flowzip.decompress(Path(task.target).read_bytes(), model=task.model)
            assert np.array_equal(np.asarray(restored), np.asarray(original))


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    Image.fromarray(make_image("photo", 8, 8)).save(tmp_path / "a.png")
    Image.fromarray(make_image("photo", 8, 8)).save(tmp_path / "b.png")
    r = _flowzip("compress", "a.png", "b.png", "--scheduler", "tcp://127.0.0.1:9", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in r.stderr
    assert not list(tmp_path.glob("*.fzi"))


def test_without_a_scheduler_dask_is_not_imported(tmp_path: Path, tiny_model_path: Path) -> None:
    Image.fromarray(make_image("photo", 8, 8)).save(tmp_path / "a.png")
    code = (
        "import sys\nfrom flowzip.frontends.cli import main\n"
        f"main(['compress', 'a.png', '-q', '--model', {str(tiny_model_path)!r}], standalone_mode=False)\n"
        "print(sorted({'dask', 'distributed'} & set(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
