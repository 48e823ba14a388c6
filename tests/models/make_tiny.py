"""Write tests/models/tiny.fzm: a 2-level, 1-step flow with 8 hidden channels for fast tests.

    python tests/models/make_tiny.py

It starts from random weights (so every layer's inverse is exercised) and is trained for 150 Adam steps on
synthetic photo, gradient and constant images, so that it codes such content in fewer than 8 bits per
subpixel and the tests run through the flow rather than the raw-tile fallback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from flowzip.learned.config import FlowConfig  # noqa: E402
from flowzip.learned.zoo import save_model  # noqa: E402

from conftest import make_image, random_flow  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    flow = random_flow(FlowConfig(levels=2, steps=1, hidden=8, prior_hidden=8)).train().requires_grad_(True)
    images = [make_image(c, 32, 32, seed=s) for c in ("photo", "gradient", "constant", "photo") for s in range(4)]
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(150):
        loss = flow.code_length_bits(x).sum() / x.numel()
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_model(HERE / "tiny.fzm", flow.eval(), "tiny", {"made_by": "tests/models/make_tiny.py"})
    print(f"final training loss {loss.item():.3f} bits per subpixel")


if __name__ == "__main__":
    main()
