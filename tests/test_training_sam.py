"""SAM, the optimiser step LAA-Net and SBI share (``dfbench.training.sam``); moved here from the
LAA-Net plugin's tests with the code."""

from __future__ import annotations

import torch

from dfbench.training.sam import SAM, set_bn_momentum


def test_sam_perturbs_then_restores_and_steps():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = SAM(torch.optim.SGD([w], lr=0.1), rho=0.5)
    (w ** 2).sum().backward()
    g = w.grad.clone()
    opt.first_step()
    assert torch.allclose(w.detach(), torch.tensor([1.0, -2.0]) + 0.5 * g / g.norm())
    opt.zero_grad()
    (w ** 2).sum().backward()
    g2 = w.grad.clone()
    opt.second_step()
    assert torch.allclose(w.detach(), torch.tensor([1.0, -2.0]) - 0.1 * g2)


def test_bn_momentum_reaches_every_batchnorm_and_none_leaves_it():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4), torch.nn.BatchNorm1d(4))
    set_bn_momentum(net, None)
    assert [m.momentum for m in net[1:]] == [0.1, 0.1]
    set_bn_momentum(net, 0.01)
    assert [m.momentum for m in net[1:]] == [0.01, 0.01]
