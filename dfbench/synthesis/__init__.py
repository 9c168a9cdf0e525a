"""Pseudo-fake synthesis for detectors trained on real faces only: Self-Blended Images (SBI) and
Blended Images (BI, Face X-ray).

One generator, several consumers (LAA-Net and SBI training): :class:`SBIGenerator` and
``bi.BIGenerator`` turn real face crops with landmarks into (real, fake, blend mask) pairs at the
network resolution; ``hulls`` holds the four face-region masks, ``augment`` the shared image/mask
augmentations, ``faces`` offline portraits with landmarks (tests, smoke runs, the visual check),
``pairs`` the per-epoch pair dataset (a family adds its own per-pair targets) and ``sources`` the
real training faces read through the evaluation crop path. Family-specific targets stay in the
family's plugin (LAA-Net's heatmap and consistency maps: ``dfbench_laanet.targets``).
"""

from .sbi import PseudoFakePair, SBIGenerator, boundary_from_mask

__all__ = ["PseudoFakePair", "SBIGenerator", "boundary_from_mask"]
