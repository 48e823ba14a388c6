"""Training: a run writes a usable model, resumes exactly, starts from a model, and runs under torchrun."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import flowzip
from flowzip.errors import FlowzipError
from flowzip.frontends.cli import main
from flowzip.learned.config import FlowConfig, TrainConfig
from flowzip.learned.flow import IntegerFlow
from flowzip.learned.train import random_crops, train
from flowzip.learned.zoo import load_model_file

from conftest import make_image, random_flow

SMALL = FlowConfig(levels=2, steps=1, hidden=8, prior_hidden=8)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "images.npy"
    np.save(path, np.stack([make_image("photo", 24, 24, seed=s) for s in range(12)]))
    return path


def _config(data: Path, out: Path, **changes: object) -> TrainConfig:
    base = TrainConfig(
        data=[str(data)], out=str(out), name="m", flow=SMALL, crop=16, batch=4, steps=6, warmup=2, val_every=3,
        val_crops=8, threads=1,
    )  # fmt: skip
    return replace(base, **changes)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def test_a_run_writes_a_model_that_codes_images(data: Path, tmp_path: Path) -> None:
    model_path = train(_config(data, tmp_path / "run"))
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [3, 6] and all(np.isfinite(r["val_bpd"]) for r in log)
    image = make_image("photo", 20, 28, seed=99)
    model = load_model_file(model_path)
    assert np.array_equal(flowzip.decompress(flowzip.compress(image, model=model), model=model), image)


def test_resume_continues_exactly(data: Path, tmp_path: Path) -> None:
    """Stopping at step 2 and running again gives the very weights of an uninterrupted run."""
    train(_config(data, tmp_path / "straight"))
    train(_config(data, tmp_path / "resumed"), stop_at_step=2)
    assert json.loads((tmp_path / "resumed" / "log.jsonl").read_text())["step"] == 2
    train(_config(data, tmp_path / "resumed"))
    straight, resumed = (
        _weights(tmp_path / "straight" / "checkpoint.pt"),
        _weights(tmp_path / "resumed" / "checkpoint.pt"),
    )
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    # a finished checkpoint copied to a new folder exports its model on a rerun
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "checkpoint.pt").write_bytes((tmp_path / "straight" / "checkpoint.pt").read_bytes())
    exported = train(_config(data, tmp_path / "copy"))
    assert load_model_file(exported).weights_hash == load_model_file(tmp_path / "straight" / "m.fzm").weights_hash


def test_init_starts_from_a_model_and_adamax_is_available(data: Path, tmp_path: Path) -> None:
    first = train(_config(data, tmp_path / "first"))
    second = train(_config(data, tmp_path / "second", init=str(first), optimizer="adamax", steps=1, val_every=1))
    assert load_model_file(second).weights_hash != load_model_file(first).weights_hash
    with pytest.raises(FlowzipError, match="cannot start"):
        train(_config(data, tmp_path / "third", init=str(first), flow=replace(SMALL, hidden=12)))
    with pytest.raises(FlowzipError, match="trained with adamax, not adam"):
        train(_config(data, tmp_path / "second", steps=2))
    with pytest.raises(FlowzipError, match="holds another architecture"):
        train(_config(data, tmp_path / "second", optimizer="adamax", flow=replace(SMALL, hidden=12)))


@pytest.mark.parametrize(
    ("growth", "new_nets"),
    [
        ({"prior_chunks": 2}, ".chunks.nets."),
        ({"prior_phases": 4}, ".phase_nets."),
        ({"context_radius": 2}, ".contexts."),
        ({"steps": SMALL.steps + 1}, f".steps.{SMALL.steps}."),
    ],
)
def test_a_grown_model_starts_where_it_was_and_trains(data: Path, tmp_path: Path, growth: dict, new_nets: str) -> None:
    """More steps, chunks, phases or a causal context: the new parts start with no effect, then learn, and the
    result codes exactly."""
    small = random_flow(SMALL)
    grown = IntegerFlow(replace(SMALL, **growth)).eval()
    grown.start_from(small)
    x = torch.from_numpy(np.load(data)[:4]).permute(0, 3, 1, 2).double()
    with torch.no_grad():
        torch.testing.assert_close(grown.code_length_bits(x), small.code_length_bits(x), rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="cannot start"):
        small.start_from(grown)  # weights cannot be dropped

    first = train(_config(data, tmp_path / "first"))
    second = train(_config(data, tmp_path / "grown", init=str(first), flow=replace(SMALL, **growth)))
    model = load_model_file(second)
    grown_nets = [k for k, v in model.flow.state_dict().items() if new_nets in k and v.abs().sum() > 0]
    assert grown_nets, "training must move the new networks"
    image = make_image("photo", 20, 28, seed=98)
    assert np.array_equal(flowzip.decompress(flowzip.compress(image, model=model), model=model), image)


def test_the_train_command_takes_every_setting_with_its_default(data: Path, tmp_path: Path) -> None:
    """Its options are the fields of FlowConfig and TrainConfig: what is not given keeps the dataclass default."""
    out = tmp_path / "cli"
    args = ["train", str(data), "--out", str(out), "--levels", "2", "--steps-per-level", "1", "--hidden", "8"]
    args += ["--prior-phases", "4", "--family", "laplace", "--crop", "16", "--stop-at-step", "1", "--threads", "1"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    saved = json.loads((out / "config.json").read_text())
    expected = asdict(TrainConfig(data=[str(data)], out=str(out), crop=16, threads=1))
    expected["flow"] = asdict(FlowConfig(levels=2, steps=1, hidden=8, prior_phases=4, family="laplace"))
    assert saved == expected
    r = CliRunner().invoke(main, [*args[:2], "--out", str(tmp_path / "bad"), "--prior-phases", "2"])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "phases" in r.output
    r = CliRunner().invoke(main, [*args[:2], "--out", str(tmp_path / "wide"), "--hidden", "300"])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "at most 256 channels" in r.output


def test_jpeg_augmentation_changes_the_chosen_fraction_of_crops_reproducibly() -> None:
    images = [make_image("photo", 40, 48, seed=s) for s in range(3)]
    plain = random_crops(images, 64, 16, np.random.default_rng(5))
    assert torch.equal(plain, random_crops(images, 64, 16, np.random.default_rng(5), jpeg_fraction=0.0))
    jpeg = random_crops(images, 64, 16, np.random.default_rng(5), jpeg_fraction=0.5)
    assert torch.equal(jpeg, random_crops(images, 64, 16, np.random.default_rng(5), jpeg_fraction=0.5))
    # one crop per seed: the same place and flip with and without the augmentation, which changes about half
    changed = [
        not torch.equal(
            random_crops(images, 1, 16, np.random.default_rng(seed)),
            random_crops(images, 1, 16, np.random.default_rng(seed), jpeg_fraction=0.5),
        )
        for seed in range(64)
    ]
    assert 16 < sum(changed) < 48


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_cpu_processes_match_one_process(data: Path, tmp_path: Path) -> None:
    """Data-parallel training with 2 gloo processes of batch 2 follows a single process of batch 4."""
    args = [str(data), "--levels", "2", "--steps-per-level", "1", "--hidden", "8", "--prior-hidden", "8"]
    args += ["--crop", "16", "--steps", "4", "--warmup", "2", "--val-every", "2", "--threads", "1", "--name", "m"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    torchrun += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port()), "-m", "flowzip", "train"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    r = subprocess.run(
        [*torchrun, *args, "--batch", "2", "--out", str(tmp_path / "ddp")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    single = subprocess.run(
        [sys.executable, "-m", "flowzip", "train", *args, "--batch", "4", "--out", str(tmp_path / "one")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    ddp, one = _weights(tmp_path / "ddp" / "checkpoint.pt"), _weights(tmp_path / "one" / "checkpoint.pt")
    assert any(not torch.equal(v, torch.zeros_like(v)) for v in ddp.values())
    for k in one:  # the same batches and updates; only the order of float sums differs
        torch.testing.assert_close(ddp[k], one[k], rtol=1e-3, atol=1e-4)
    ddp_log = (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in ddp_log] == [2, 4], "one process writes the log"
