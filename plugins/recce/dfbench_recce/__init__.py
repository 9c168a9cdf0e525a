"""dfbench plugin for RECCE (CVPR 2022): model, official-checkpoint converter, training, recce_gf."""

__version__ = "0.1.0"
