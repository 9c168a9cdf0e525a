"""RECCE's Xception encoder: the core's Cadene-layout Xception (:mod:`dfbench.zoo.xception`,
the module names and padding of timm 0.3.4's ``xception``) without a classifier, with the two taps
RECCE's network reads from the outside.

"Xception: Deep Learning with Depthwise Separable Convolutions" (Chollet, CVPR 2017),
https://arxiv.org/abs/1610.02357. RECCE's official checkpoints store the encoder under
``encoder.*`` in that layout (``legacy_xception`` in timm 1.x); RECCE decodes the block4 embedding
and attends over block7/block8, so the layer order it depends on is explicit here.
``tests/test_model.py`` checks parity against timm's ``legacy_xception`` at full width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dfbench.zoo.xception import Block, SeparableConv2d
from dfbench.zoo.xception import Xception as _CadeneXception

__all__ = ["Block", "SeparableConv2d", "Xception"]


class Xception(_CadeneXception):
    """Xception trunk (no classifier: RECCE never reads ``encoder.fc``; the converter drops it).

    ``stem`` = (conv1, conv2) widths, ``entry`` = block1..3 widths (block3's is the middle-flow
    width, 728 in the paper), ``exit`` = (block12, conv3, conv4) widths; ``exit[-1]`` is the
    feature width the head pools (2048). Eight middle blocks (block4..block11), as RECCE's taps
    assume.
    """

    def __init__(self, stem: Sequence[int] = (32, 64), entry: Sequence[int] = (128, 256, 728),
                 exit: Sequence[int] = (1024, 1536, 2048), in_chans: int = 3) -> None:
        super().__init__(0, stem, entry, 8, exit, in_chans)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1..block4: the 728-channel embedding RECCE decodes (19x19 at 299 px)."""
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        return self.block4(self.block3(self.block2(self.block1(x))))

    def exit_flow(self, x: torch.Tensor) -> torch.Tensor:
        """block9..conv4: from the attended block8 output to the 2048-channel map."""
        for i in (9, 10, 11, 12):
            x = self.block(i)(x)
        x = self.act3(self.bn3(self.conv3(x)))
        return self.act4(self.bn4(self.conv4(x)))
