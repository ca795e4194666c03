"""bench/loss_balance.py: each term's pull at the decoder's output, against the squared error's."""

import pytest
import torch

from tests.helpers import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("bench/loss_balance.py")


def test_l1_pulls_one_over_twice_the_error_as_hard_as_squared_error(bench):
    x = torch.rand(4, 3, 16, 16) * 0.8
    for error in (0.1, 0.02):
        norms = bench.gradient_norms(x + error, x)
        assert norms["L1 (absolute error)"] / norms["squared error"] == pytest.approx(1 / (2 * error), rel=1e-4)


def test_the_ssim_term_does_not_pull_at_a_perfect_reconstruction(bench):
    x = torch.rand(2, 3, 16, 16)
    assert bench.gradient_norms(x, x)["pixels · (1 − SSIM)"] == pytest.approx(0.0, abs=1e-3)
    assert bench.gradient_norms(x.flip(-1), x)["pixels · (1 − SSIM)"] > 1.0
