"""Pseudo-fake synthesis for LAA-Net training: Self-Blended Images (SBI) and Blended Images (BI).

``SBIGenerator`` and ``BIGenerator`` turn real face crops with landmarks into (real, fake, blend
mask) pairs at the network resolution; ``hulls`` holds the four face-region masks and
``augment`` the shared image/mask augmentations.
"""

from .sbi import PseudoFakePair, SBIGenerator, boundary_from_mask

__all__ = ["PseudoFakePair", "SBIGenerator", "boundary_from_mask"]
