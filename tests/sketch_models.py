"""Test models that respond to a sketch, shared by the inference, CLI and web tests.

* :class:`SketchEcho`: a generator-protocol stub with one sketch channel whose prediction
  is white where the sketch has a stroke and black elsewhere: the strokes show exactly
  where the Inpainter put them (pixel tests).
* :func:`strong_sketch_deepfill`: a real tiny DeepFill v2 (``in_extra=1``) checkpoint whose
  weights are set by hand so that the sketch channel writes straight to the output: all
  weights zero except one channel that carries the (hole-masked) sketch through every
  refinement layer (centre taps, open gates; 3x3 sums where the stride is 2, so a thin line
  never falls between the samples) to the RGB layer, which maps it to white on a dark
  grey. Trained weights are not needed to check that a sketch travels from the page / the
  command line into the model: this one fills the hole with flat grey without a sketch
  and with a bright band (1/4 resolution, so ~4-8 px wide) along the strokes with one.
  Once the shipped ``deepfill_v2`` has a sketch channel, tests may use it instead.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from inpaintkit.layers.gated_conv import GatedConv2d, GatedDeconv2d
from inpaintkit.models.base import GeneratorProtocol


class SketchEcho(GeneratorProtocol, nn.Module):
    """Prediction = white where ``sketch`` > 0.5, black elsewhere (the image is ignored)."""

    sketch_channels = 1

    def inpaint(self, image, mask, generator=None, *, coarse=None, sketch=None):
        self.check_extra_inputs(image, coarse, sketch)
        if sketch is None:
            return -torch.ones_like(image)
        return (sketch > 0.5).to(image.dtype).expand_as(image) * 2 - 1


def _pass_channel0(layer: GatedConv2d, source: int, full_kernel: bool) -> None:
    """Feature channel 0 = ELU(input channel ``source``) (centre tap, or the sum over the
    kernel), its gate open (sigmoid(20) ~ 1)."""
    conv = layer.conv
    k = conv.weight.shape[-1]
    with torch.no_grad():
        if full_kernel:
            conv.weight[0, source] = 1.0
        else:
            conv.weight[0, source, k // 2, k // 2] = 1.0
        if layer.out_ch < conv.weight.shape[0]:  # gated: the second half are the gates
            conv.bias[layer.out_ch] = 20.0


def strong_sketch_deepfill(folder: Path) -> Path:
    """Save the hand-set DeepFill v2 (module docstring) under ``folder``; returns it."""
    from inpaintkit.models import create_model
    from inpaintkit.models.serialization import save_model

    model = create_model("deepfill_v2", tiny=True, in_extra=1)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    refine = model.refine_net
    sketch_in = refine.hallucinate[0].conv.weight.shape[1] - 1  # the last input channel
    for i, layer in enumerate(refine.hallucinate):
        _pass_channel0(layer, sketch_in if i == 0 else 0, full_kernel=layer.conv.stride[0] == 2)
    for layer in refine.decoder[:-1]:
        _pass_channel0(layer.conv if isinstance(layer, GatedDeconv2d) else layer, 0, full_kernel=False)
    out = refine.decoder[-1]  # plain conv to RGB: refined = tanh(3 * s - 1)
    with torch.no_grad():
        out.weight[:, 0, 1, 1] = 3.0
        out.bias[:] = -1.0
    return save_model(model, folder, metadata={"note": "test model: the sketch writes to the output"})
