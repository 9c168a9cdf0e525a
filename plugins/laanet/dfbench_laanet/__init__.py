"""dfbench-laanet: LAA-Net (CVPR 2024) for dfbench: model, converter, pseudo-fake training."""
