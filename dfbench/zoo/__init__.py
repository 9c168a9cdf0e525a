"""Shared pieces for the model zoo: backbones in timm layout with converters from the layouts
official checkpoints use (``efficientnet_pytorch``, Cadene's Xception), and bring-your-own models
(ONNX, TorchScript, a Python factory) plus ``dfbench export``.

Plugins depend on this package; it never imports a plugin.
"""
