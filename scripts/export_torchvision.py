#!/usr/bin/python3
"""Writes the Auto-Split paper's torchvision architectures as ONNX (opset 13, 1x3x224x224) with
seeded random weights: latency and sizes are exact, accuracy means fidelity to the float model.
Needs Debian's python3-torchvision.  Usage: export_torchvision.py OUTDIR [--keep-bn] [NAME...]
--keep-bn writes NAME_bn.onnx with the BatchNormalization nodes kept (tests BN folding)."""
import os
import sys

import torch
import torchvision.models as models

ARCHS = {
    "resnet18": lambda: models.resnet18(),
    "resnet50": lambda: models.resnet50(),
    "mobilenet_v2": lambda: models.mobilenet_v2(),
    "mnasnet1_0": lambda: models.mnasnet1_0(),
    "googlenet": lambda: models.googlenet(aux_logits=False, init_weights=True),
    "resnext50_32x4d": lambda: models.resnext50_32x4d(),
}


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    outdir, rest = args[0], args[1:]
    keep_bn = "--keep-bn" in rest
    names = [a for a in rest if a != "--keep-bn"] or list(ARCHS)
    os.makedirs(outdir, exist_ok=True)
    for name in names:
        if name not in ARCHS:
            sys.exit(f"unknown architecture {name}; known: {', '.join(ARCHS)}")
        torch.manual_seed(0)
        net = ARCHS[name]().eval()
        path = os.path.join(outdir, name + ("_bn" if keep_bn else "") + ".onnx")
        mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
        torch.onnx.export(net, torch.randn(1, 3, 224, 224), path, opset_version=13,
                          input_names=["input"], output_names=["logits"], training=mode,
                          do_constant_folding=not keep_bn)
        print(f"{name}: {os.path.getsize(path) // 1024} KiB -> {path}")


if __name__ == "__main__":
    main()
