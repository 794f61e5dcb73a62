#!/usr/bin/python3
"""Exports torchvision models with seeded random weights to ONNX (dynamic batch) for benchmarks.

  /usr/bin/python3 bench/export_models.py [--out bench/models] [resnet50 mobilenet_v2 efficientnet_b0]

Needs Debian's python3-torch and python3-torchvision (no network: weights are seeded, not downloaded).
BatchNorm running statistics are randomized too, so the graphs behave like trained ones numerically
(non-trivial BN folding, varied activations)."""
import argparse
import inspect
import os

import torch
import torchvision

MODELS = {
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "efficientnet_b0": torchvision.models.efficientnet_b0,
}


def randomize_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/models")
    parser.add_argument("models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.models:
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(0)
        model = MODELS[name](weights=None).eval()
        with torch.no_grad():
            randomize_batchnorm(model, gen)
        x = torch.randn(1, 3, 224, 224, generator=gen)
        path = os.path.join(args.out, f"{name}.onnx")
        # PyTorch >= 2.9 defaults to the dynamo exporter; the TorchScript one gives the same graph on every
        # version (Debian's 1.13 here, 2.11 on the GPU machine).
        legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, **legacy)
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
