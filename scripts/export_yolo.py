#!/usr/bin/python3
"""Writes YOLOv3-tiny, YOLOv3 and YOLOv3-SPP (Darknet layer layouts, seeded random weights) as
ONNX at 1x3x416x416, opset 13. Outputs are the raw head convolutions (no box decoding).
Needs Debian's python3-torchvision.  Usage: export_yolo.py OUTDIR"""
import os
import sys

import torch
import torch.nn as nn


def conv_bn_leaky(cin, cout, k, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.LeakyReLU(0.1))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.reduce = conv_bn_leaky(c, c // 2, 1)
        self.expand = conv_bn_leaky(c // 2, c, 3)

    def forward(self, x):
        return x + self.expand(self.reduce(x))


def darknet_stage(cin, cout, blocks):
    return nn.Sequential(conv_bn_leaky(cin, cout, 3, 2), *[Residual(cout) for _ in range(blocks)])


class SpatialPyramidPool(nn.Module):
    def forward(self, x):
        pools = [nn.functional.max_pool2d(x, k, 1, k // 2) for k in (13, 9, 5)]
        return torch.cat(pools + [x], 1)


def detection_block(cin, c, spp=False):
    layers = [conv_bn_leaky(cin, c, 1), conv_bn_leaky(c, 2 * c, 3), conv_bn_leaky(2 * c, c, 1)]
    if spp:
        layers += [SpatialPyramidPool(), conv_bn_leaky(4 * c, c, 1), conv_bn_leaky(c, 2 * c, 3),
                   conv_bn_leaky(2 * c, c, 1)]
    else:
        layers += [conv_bn_leaky(c, 2 * c, 3), conv_bn_leaky(2 * c, c, 1)]
    return nn.Sequential(*layers)


class YoloV3(nn.Module):
    def __init__(self, spp=False, anchors=3, classes=80):
        super().__init__()
        o = anchors * (5 + classes)
        self.stem = conv_bn_leaky(3, 32, 3)
        self.s1, self.s2 = darknet_stage(32, 64, 1), darknet_stage(64, 128, 2)
        self.s3, self.s4 = darknet_stage(128, 256, 8), darknet_stage(256, 512, 8)
        self.s5 = darknet_stage(512, 1024, 4)
        self.h1 = detection_block(1024, 512, spp)
        self.o1 = nn.Sequential(conv_bn_leaky(512, 1024, 3), nn.Conv2d(1024, o, 1))
        self.r1 = conv_bn_leaky(512, 256, 1)
        self.h2 = detection_block(768, 256)
        self.o2 = nn.Sequential(conv_bn_leaky(256, 512, 3), nn.Conv2d(512, o, 1))
        self.r2 = conv_bn_leaky(256, 128, 1)
        self.h3 = detection_block(384, 128)
        self.o3 = nn.Sequential(conv_bn_leaky(128, 256, 3), nn.Conv2d(256, o, 1))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        x = self.s2(self.s1(self.stem(x)))
        c3 = self.s3(x)
        c4 = self.s4(c3)
        c5 = self.s5(c4)
        p5 = self.h1(c5)
        p4 = self.h2(torch.cat([self.up(self.r1(p5)), c4], 1))
        p3 = self.h3(torch.cat([self.up(self.r2(p4)), c3], 1))
        return self.o1(p5), self.o2(p4), self.o3(p3)


class YoloV3Tiny(nn.Module):
    def __init__(self, anchors=3, classes=80):
        super().__init__()
        o = anchors * (5 + classes)
        pool = lambda: nn.MaxPool2d(2, 2)  # noqa: E731
        self.backbone = nn.Sequential(conv_bn_leaky(3, 16, 3), pool(), conv_bn_leaky(16, 32, 3), pool(),
                                      conv_bn_leaky(32, 64, 3), pool(), conv_bn_leaky(64, 128, 3), pool(),
                                      conv_bn_leaky(128, 256, 3))
        self.deep = nn.Sequential(pool(), conv_bn_leaky(256, 512, 3), nn.ZeroPad2d((0, 1, 0, 1)),
                                  nn.MaxPool2d(2, 1), conv_bn_leaky(512, 1024, 3), conv_bn_leaky(1024, 256, 1))
        self.o1 = nn.Sequential(conv_bn_leaky(256, 512, 3), nn.Conv2d(512, o, 1))
        self.route = conv_bn_leaky(256, 128, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.o2 = nn.Sequential(conv_bn_leaky(384, 256, 3), nn.Conv2d(256, o, 1))

    def forward(self, x):
        r8 = self.backbone(x)
        r13 = self.deep(r8)
        return self.o1(r13), self.o2(torch.cat([self.up(self.route(r13)), r8], 1))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name, ctor in [("yolov3_tiny", YoloV3Tiny), ("yolov3", YoloV3),
                       ("yolov3_spp", lambda: YoloV3(spp=True))]:
        torch.manual_seed(0)
        net = ctor().eval()
        path = os.path.join(outdir, name + ".onnx")
        torch.onnx.export(net, torch.randn(1, 3, 416, 416), path, opset_version=13,
                          input_names=["images"], do_constant_folding=True)
        print(f"{name}: {os.path.getsize(path) // 1024} KiB -> {path}")


if __name__ == "__main__":
    main()
