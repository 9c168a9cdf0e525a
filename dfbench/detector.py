"""The detector contract: what every detector plugin returns from its factory.

The runner hands a detector canonical uint8 crops and receives one fake logit per sample.
Normalisation lives here, inside the wrapper (the RobustBench lesson), so every detector is fed
the same crops; sigmoid, flip test, video aggregation and metrics stay in the harness so that
every detector is scored the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from .specs import DetectorSpec, InputSpec, VariantSpec


class Detector(nn.Module):
    """Base class for detectors.

    Input: ``torch.uint8`` crops, ``[B, C, H, W]`` for frame detectors or ``[B, T, C, H, W]`` for
    clip detectors (C = 3 RGB or 1 gray, as the variant's :class:`InputSpec` says).
    Output: ``float32`` fake logits of shape ``[B]``.

    Subclasses wrap their network as ``self.net`` and implement :meth:`logits` on normalised
    float input. ``state_dict()`` of the wrapper is what dfbench saves (``net.``-prefixed keys).
    """

    spec: DetectorSpec
    variant: VariantSpec
    exportable = True
    """False when forward cannot be traced to ONNX faithfully (e.g. it calls another runtime);
    ``--backend auto`` then keeps torch (:mod:`dfbench.backends`)."""

    def __init__(self, net: nn.Module, input_spec: InputSpec) -> None:
        super().__init__()
        self.net = net
        self.input_spec = input_spec
        c = input_spec.channels
        shape = (1, c, 1, 1) if input_spec.unit == "frame" else (1, 1, c, 1, 1)
        # Buffers (not parameters) so they follow .to(device) but are never trained or saved.
        self.register_buffer("_mean", torch.tensor(input_spec.mean[:c]).view(shape), persistent=False)
        self.register_buffer("_std", torch.tensor(input_spec.std[:c]).view(shape), persistent=False)
        self.trained = False
        self.weights_info: dict[str, Any] = {"tag": None, "sha256": None, "source": None}

    # -- the contract ---------------------------------------------------------------------------
    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 [0, 255] -> float in the model's expected range, in the model's dtype."""
        dtype = self.param_dtype
        x = x.to(dtype) / 255.0
        return (x - self._mean.to(dtype)) / self._std.to(dtype)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Fake logits ``[B]`` from normalised input. Override in subclasses."""
        out = self.net(x)
        if isinstance(out, dict):
            out = out["cls"]
        return out.reshape(out.shape[0], -1)[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8:
            raise TypeError(f"{type(self).__name__} expects uint8 crops, got {x.dtype}")
        return self.logits(self.normalise(x)).float()

    def explain(self, x: torch.Tensor) -> dict[str, Any]:
        """Optional: per-sample explanation maps/weights for ``dfbench predict --explain``.

        Returns a dict with ``logits`` and any of ``heatmap`` ([B, H, W] in [0, 1]),
        ``reconstruction`` ([B, C, H, W] uint8), ``frame_weights`` ([B, T]; only when the model
        really weights frames, e.g. attention pooling: a uniform 1/T is not an explanation).
        Class attributes ``explain_heatmap_title`` / ``explain_heatmap_label`` (the colour bar's
        units) and ``explain_clip_name`` (clip detectors) label the pictures.
        """
        return {"logits": self.forward(x)}

    # -- conveniences ---------------------------------------------------------------------------
    @property
    def param_dtype(self) -> torch.dtype:
        for p in self.parameters():
            return p.dtype
        return torch.float32

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def example_input(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """A random uint8 batch with the shape this detector expects."""
        s = self.input_spec
        g = torch.Generator().manual_seed(seed)
        shape: tuple[int, ...] = (batch, s.channels, s.size, s.size)
        if s.unit == "clip":
            shape = (batch, s.clip_length, s.channels, s.size, s.size)
        return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)

    def max_frames_for(self, dataset: str) -> int | None:
        """Protocol cap on leading frames for ``dataset`` (e.g. LipForensics' FF++ 110-frame rule).

        None (the default) means no cap; the runner records the value in the protocol.
        """
        return None

    def configure_inference(self, **options: Any) -> None:
        """Hook for fast-path switches (e.g. skipping heads inference never reads). No-op here."""
