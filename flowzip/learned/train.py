"""Training a model (a flow or the pixel model) on image crops: resumable, logged, with an exponential moving average.

The loss is the model's code length in bits per dimension, exactly what the coder pays (see
``flowzip.learned.priors``), with straight-through rounding through every integer layer. A run writes to its folder:
``checkpoint.pt`` (everything needed to continue exactly: model, EMA, optimiser, step, random states),
``log.jsonl`` (training and held-out bpd) and ``NAME.fzm`` (``--name``: the EMA weights as a shippable model file).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from flowzip.errors import FlowzipError
from flowzip.images import load_rgb_images
from flowzip.learned.config import TrainConfig
from flowzip.learned.flow import IntegerFlow
from flowzip.learned.pixel_model import PixelModel
from flowzip.learned.zoo import MODEL_SUFFIX, build_network, load_model, save_model

JPEG_QUALITIES = (60, 95)  # the JPEG augmentation re-encodes a crop at a quality drawn from this range


def _through_jpeg(crop: np.ndarray, quality: int) -> np.ndarray:
    """``crop`` after a JPEG round trip: flat 8x8 blocks, no sensor noise, as in photos that were JPEGs."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(crop)).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def random_crops(
    images: list[np.ndarray], count: int, size: int, rng: np.random.Generator, jpeg_fraction: float = 0.0
) -> torch.Tensor:
    """``count`` random crops of ``size`` (with random horizontal flips, and a ``jpeg_fraction`` of them through
    JPEG at a random quality) as a float tensor (N, 3, size, size)."""
    out = np.empty((count, size, size, 3), dtype=np.uint8)
    for k in range(count):
        img = images[rng.integers(len(images))]
        h, w = img.shape[:2]
        if h < size or w < size:
            img = np.pad(img, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), mode="edge")
            h, w = img.shape[:2]
        i, j = rng.integers(h - size + 1), rng.integers(w - size + 1)
        crop = img[i : i + size, j : j + size]
        crop = crop[:, ::-1] if rng.random() < 0.5 else crop
        if jpeg_fraction and rng.random() < jpeg_fraction:
            crop = _through_jpeg(crop, int(rng.integers(JPEG_QUALITIES[0], JPEG_QUALITIES[1] + 1)))
        out[k] = crop
    return torch.from_numpy(out).permute(0, 3, 1, 2).float()


class CodeLength(torch.nn.Module):
    """The training objective as a module, so that data-parallel wrappers see a call: the flow's code length of
    a batch in bits per subpixel."""

    def __init__(self, flow: IntegerFlow | PixelModel):
        super().__init__()
        self.flow = flow

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow.code_length_bits(x).sum() / x.numel()


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_fraction`` of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.min_lr_fraction + (1 - cfg.min_lr_fraction) * 0.5 * (1 + math.cos(math.pi * t)))


def split_held_out(images: list[np.ndarray], fraction: float, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split images into (training, held-out), the held-out ``fraction`` chosen by ``seed``."""
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = round(len(images) * fraction) if len(images) > 1 else 0
    return [images[i] for i in order[n_val:]], [images[i] for i in order[:n_val]]


@torch.no_grad()
def evaluate(flow: IntegerFlow | PixelModel, crops: torch.Tensor, batch: int = 64) -> float:
    """Bits per subpixel of fixed crops (float32, as in training)."""
    flow.eval()
    bits = sum(flow.code_length_bits(crops[i : i + batch]).sum().item() for i in range(0, len(crops), batch))
    flow.train()
    return bits / crops.numel()


def _distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size): from torchrun's environment, with the process group started; (0, 1) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise FlowzipError(f"--device {cfg.device}: no CUDA device is available")
        if cfg.device == "cuda" and "LOCAL_RANK" in os.environ:  # one GPU per torchrun process
            return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    elif cfg.device != "cpu":
        raise FlowzipError(f"unknown device {cfg.device!r}: use cpu, cuda or cuda:N")
    return torch.device(cfg.device)


def train(cfg: TrainConfig, stop_at_step: int | None = None, time_limit: float | None = None) -> Path:
    """Run (or resume) training; return the path of the exported model file.

    ``cfg.steps`` is the length of the whole schedule; ``stop_at_step`` and ``time_limit`` (seconds) end this
    run early, with a checkpoint, so that a later run resumes where it stopped.

    Under ``torchrun`` (several processes) the model is wrapped in DistributedDataParallel: every process
    draws the same global batch of ``world * cfg.batch`` crops from the same random stream and trains on its
    own slice, so a run is the same whatever the number of processes, up to the order of float sums, and
    resumes from one random state. Only the first process writes the log, checkpoints and model file.
    """
    device = _device(cfg)
    rank, world = _distributed(device)
    out = Path(cfg.out)
    ckpt_path, model_path = out / "checkpoint.pt", out / f"{cfg.name}{MODEL_SUFFIX}"
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)

    train_images, val_images = split_held_out(load_rgb_images(cfg.data), cfg.val_fraction, cfg.seed)
    val_crops = random_crops(val_images or train_images, cfg.val_crops, cfg.crop, np.random.default_rng(1))

    try:
        flow = build_network(cfg.flow)
    except ValueError as e:  # beyond the exactness bounds, which the layers check as they are built
        raise FlowzipError(f"invalid flow configuration: {e}") from None
    if cfg.init and not ckpt_path.exists():
        try:
            flow.start_from(load_model(cfg.init).flow)
        except ValueError as e:
            raise FlowzipError(f"--init {cfg.init}: {e}") from None
    flow.to(device)
    ema = copy.deepcopy(flow).requires_grad_(False)
    opt = getattr(torch.optim, cfg.optimizer.capitalize())(flow.parameters(), lr=cfg.lr)  # config.OPTIMIZERS
    step = 0
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=True, map_location=device)
        if ck.get("optimizer_name", "adam") != cfg.optimizer:
            raise FlowzipError(f"{ckpt_path} was trained with {ck.get('optimizer_name', 'adam')}, not {cfg.optimizer}")
        try:
            flow.load_state_dict(ck["model"])
        except RuntimeError:
            raise FlowzipError(f"{ckpt_path} holds another architecture than {cfg.flow}") from None
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["optimizer"])
        step = ck["step"]
        rng.bit_generator.state = json.loads(ck["numpy_rng"])
        torch.set_rng_state(ck["torch_rng"])
        if rank == 0:
            print(f"resumed {ckpt_path} at step {step}")
    objective: torch.nn.Module = CodeLength(flow)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        objective = DistributedDataParallel(objective, device_ids=[device.index] if device.type == "cuda" else None)
    if rank == 0:
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))

    def export_model() -> None:
        save_model(model_path, ema, cfg.name, {"step": step, "train": asdict(cfg)})

    def checkpoint() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": flow.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": opt.state_dict(),
                "optimizer_name": cfg.optimizer,
                "step": step,
                "numpy_rng": json.dumps(rng.bit_generator.state),
                "torch_rng": torch.get_rng_state(),
            },
            tmp,
        )
        tmp.replace(ckpt_path)
        export_model()

    log = (out / "log.jsonl").open("a") if rank == 0 else None
    bar = tqdm(total=cfg.steps, initial=step, desc=cfg.name, dynamic_ncols=True, disable=rank != 0 or None)
    start, running = time.time(), None
    flow.train()
    stop = min(cfg.steps, stop_at_step or cfg.steps)
    while step < stop:
        for g in opt.param_groups:
            g["lr"] = learning_rate(cfg, step)
        batch = random_crops(train_images, world * cfg.batch, cfg.crop, rng, cfg.jpeg_fraction)[rank::world].to(device)
        loss = objective(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), cfg.clip)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), flow.parameters(), strict=True):
                pe.lerp_(p, 1 - cfg.ema)
        step += 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        bar.update(1)
        bar.set_postfix(bpd=f"{running:.3f}")
        out_of_time = _agree(time_limit is not None and time.time() - start > time_limit, world)
        if rank == 0 and (step % cfg.val_every == 0 or step == stop or out_of_time):
            val = evaluate(ema, val_crops.to(device))
            record = {"step": step, "train_bpd": running, "val_bpd": val, "seconds": round(time.time() - start, 1)}
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.write(f"step {step}: train {running:.4f} bpd, held-out (EMA) {val:.4f} bpd")
            checkpoint()
        if out_of_time:
            break
    bar.close()
    if rank == 0 and not model_path.exists():  # a finished checkpoint copied to a new run folder
        export_model()
    if world > 1:
        import torch.distributed as dist

        dist.barrier()  # the model file is complete before any process returns its path
    return model_path


def _agree(flag: bool, world: int) -> bool:
    """The first process's decision, for all processes (they must stop at the same step)."""
    if world == 1:
        return flag
    import torch.distributed as dist

    decision = torch.tensor([int(flag)])
    dist.broadcast(decision, 0)
    return bool(decision.item())
