#!/usr/bin/python3
"""Writes a small ViT-style classifier as ONNX (opset 14, 1x3x32x32) with seeded random weights:
patch-embedding conv, class token, learned position embedding, pre-norm encoder blocks
(multi-head self-attention, GELU MLP), LayerNorm and a linear head on the class token.
The export holds what transformer exports hold: LayerNorm decomposed into
ReduceMean/Sub/Pow/Sqrt/Div, GELU as Erf, MatMul attention with Softmax, Reshape/Transpose
with shapes computed through Shape/Gather/Concat, and the class token's Expand whose shape goes
through Shape/ConstantOfShape/Equal/Where.  Needs Debian's python3-torch.
Usage: export_transformer.py OUTDIR [NAME]   (NAME: vit_tiny, the default)"""
import math
import os
import sys

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, image=32, patch=4, dim=64, depth=3, heads=4, hidden=128, classes=10):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


ARCHS = {"vit_tiny": lambda: ViT()}


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    outdir, names = args[0], args[1:] or list(ARCHS)
    os.makedirs(outdir, exist_ok=True)
    for name in names:
        if name not in ARCHS:
            sys.exit(f"unknown architecture {name}; known: {', '.join(ARCHS)}")
        torch.manual_seed(0)
        net = ARCHS[name]().eval()
        path = os.path.join(outdir, name + ".onnx")
        # The dynamo exporter of newer torch versions writes other graphs; this is the TorchScript one.
        with torch.no_grad():
            torch.onnx.export(net, torch.randn(1, 3, 32, 32), path, opset_version=14, input_names=["input"],
                              output_names=["logits"], training=torch.onnx.TrainingMode.EVAL,
                              do_constant_folding=True)
        print(f"{name}: {os.path.getsize(path) // 1024} KiB -> {path}")


if __name__ == "__main__":
    main()
