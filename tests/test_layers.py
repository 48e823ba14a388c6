"""Every invertible layer's inverse is exact, and the fixed-point arithmetic is exact."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flowzip.learned.emerging import IntegerEmergingConv, IntegerMaskedConv
from flowzip.learned.exact import MASKED_BITS, MAX_CONV_CHANNELS, FixedPointConv2d, conv3x3, to_grid
from flowzip.learned.layers import FlowStep, IntegerAdditiveCoupling, Squeeze


def _randomise(module: torch.nn.Module, std: float = 0.1, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, std)
    return module.eval()


def _int_tensor(*shape: int, seed: int = 1, low: int = -300, high: int = 300) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, shape, generator=g).to(torch.float64)


@pytest.mark.parametrize(
    ("layer", "channels"),
    [
        (Squeeze(), 3),
        (IntegerMaskedConv(6, reverse=False), 6),
        (IntegerMaskedConv(6, reverse=True), 6),
        (IntegerEmergingConv(5), 5),
        (IntegerAdditiveCoupling(6, hidden=8, blocks=1), 6),
        (FlowStep(12, hidden=8, blocks=2), 12),
    ],
    ids=["squeeze", "masked-conv", "masked-conv-reverse", "emerging-conv", "coupling", "flow-step"],
)
def test_inverse_is_exact(layer: torch.nn.Module, channels: int) -> None:
    layer = _randomise(layer)
    x = _int_tensor(2, channels, 10, 14)
    with torch.no_grad():
        y = layer(x)
        assert torch.equal(y, torch.round(y)), "outputs must be integers"
        if not isinstance(layer, Squeeze):
            assert not torch.equal(y, x), "the test needs a layer that changes its input"
        assert torch.equal(layer.inverse(y), x)


def test_masked_conv_is_autoregressive() -> None:
    """Changing one pixel changes outputs only at that pixel and after it (raster order)."""
    layer = _randomise(IntegerMaskedConv(3, reverse=False), std=0.5)
    x = _int_tensor(1, 3, 6, 6)
    x2 = x.clone()
    x2[0, 1, 3, 3] += 50
    with torch.no_grad():
        changed = (layer(x2) != layer(x)).any(1)[0].nonzero().tolist()
    assert changed and all((i, j) >= (3, 3) for i, j in changed)


@pytest.mark.parametrize("shape", [(2, 7, 9, 11), (1, 7, 70, 65)], ids=["batch", "several-chunks"])
def test_fixed_point_conv_is_exact_in_float64(shape: tuple[int, ...]) -> None:
    """A float64 convolution of grid weights and grid activations equals an int64 computation."""
    conv = _randomise(FixedPointConv2d(7, 5), std=0.3)
    a = to_grid(torch.randn(*shape, dtype=torch.float64) * 4, 6)
    with torch.no_grad():
        out = conv(a)
        w_num = torch.round(to_grid(conv.weight, 12).double() * 2**12).long()
        b_num = torch.round(to_grid(conv.bias, 18).double() * 2**18).long()
        a_num = torch.round(a * 2**6).long()
        cols = F.unfold(a_num.double(), 3, padding=1).long()  # integer values, exactly representable
        ref = torch.einsum("ok,nkl->nol", w_num.flatten(1), cols) + b_num[None, :, None]
    assert torch.equal(out.flatten(2), ref.double() / 2**18)


def test_coding_conv_is_exact_at_the_grid_bounds() -> None:
    """The worst case of docs/exactness.md: the most channels, weights and activations at their limits."""
    g = torch.Generator().manual_seed(3)
    w_num = torch.randint(-(2**18), 2**18 + 1, (4, MAX_CONV_CHANNELS, 3, 3), generator=g)
    w_num[0] = 2**18  # one output channel whose every product is at the limit, all of one sign
    a_num = torch.randint(-(2**14), 2**14 + 1, (1, MAX_CONV_CHANNELS, 6, 5), generator=g)
    a_num[..., 1:4, 1:4] = 2**14
    b_num = torch.tensor([2**34, -(2**34), 0, 1])  # the bias limit 2**16 on the 2**-18 grid
    out = conv3x3(a_num.double() / 2**6, w_num.double() / 2**12, b_num.double() / 2**18)
    cols = F.unfold(a_num.double(), 3, padding=1).long()
    ref = torch.einsum("ok,nkl->nol", w_num.flatten(1), cols) + b_num[None, :, None]
    assert torch.equal(out.flatten(2) * 2**18, ref.double())
    # at pixel (2, 2) channel 0 sums 256 x 9 products at the limit, 2**32 each, plus the largest bias
    assert out[0, 0, 2, 2] * 2**18 == MAX_CONV_CHANNELS * 9 * 2**32 + 2**34


def test_masked_weights_are_fixed_point() -> None:
    layer = _randomise(IntegerMaskedConv(4, reverse=True))
    w = layer.fixed_point_weight() * 2**MASKED_BITS
    assert torch.equal(w, torch.round(w))
