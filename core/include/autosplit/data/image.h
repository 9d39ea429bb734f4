// Images as model inputs: PNG/JPEG decoding (libpng, libjpeg), a small JSON preprocessing
// profile (size, resize mode, channel order, scale/mean/std, layout) and image-folder
// calibration/evaluation sets.
#pragma once

#include "autosplit/data/dataset.h"
#include "autosplit/ir/graph.h"

#include <cstdint>
#include <string>
#include <vector>

namespace autosplit {

// 8-bit interleaved pixels, row-major: channels 1 (gray) or 3 (RGB). Alpha is dropped on
// decoding (PNG transparency is not composited).
struct Image {
    int width = 0, height = 0, channels = 0;
    std::vector<uint8_t> pixels;  // height * width * channels
};

// PNG or JPEG chosen by the file signature, not the extension. Throws Error naming the file for
// an unreadable, truncated or corrupt image, or an unsupported kind (CMYK JPEG).
Image readImage(const std::string& path);
Image decodeImage(const std::string& bytes, const std::string& displayName);
// Writes an 8-bit gray or RGB PNG (atomically: temp file + rename).
void writePng(const std::string& path, const Image& img);

// How an image becomes an input tensor. JSON (every key optional):
//   {"width": 224, "height": 224,          // default: the model input's H and W
//    "resize": "stretch",                   // "stretch" | "keep-aspect" (fit, pad the rest) |
//                                           // "crop" (shorter side to resize_short, centre crop) |
//                                           // "none" (the image must already have the size)
//    "resize_short": 256,                   // "crop" only; default: the target's shorter side
//    "pad_align": "center",                 // "keep-aspect": "center" | "top-left"
//    "pad_value": 0.0,                      // value of padded elements, after normalization
//    "channel_order": "RGB",                // "RGB" | "BGR" | "GRAY"
//    "gray_to_rgb": false,                  // accept gray images for 3-channel inputs
//    "scale": 0.00392156862745098,          // x = (pixel * scale - mean[c]) / std[c]
//    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
//    "layout": "NCHW"}                      // "NCHW" | "NHWC"
struct PreprocessProfile {
    int width = 0, height = 0;
    std::string resize = "stretch";
    int resizeShort = 0;
    std::string padAlign = "center";
    float padValue = 0.f;
    std::string channelOrder = "RGB";
    bool grayToRgb = false;
    float scale = 1.f / 255.f;
    std::vector<float> mean{0.f}, std{1.f};  // one value, or one per channel
    std::string layout = "NCHW";
};

// Throws Error naming the file / key on malformed JSON, unknown keys or values.
PreprocessProfile parsePreprocessProfile(const std::string& json, const std::string& displayName);
PreprocessProfile loadPreprocessProfile(const std::string& path);

// [1, C, H, W] (or [1, H, W, C]) float tensor for input `inputShape` (-1 = free dim: the profile
// must give it). Throws Error naming `displayName` when the channels or size do not fit.
TensorData imageToTensor(const Image& img, const PreprocessProfile& p, const std::vector<int64_t>& inputShape,
                         const std::string& displayName);

// Image files of a folder (*.png, *.jpg, *.jpeg; any case), sorted by name, one sample each
// (models with one image input). sampleNames are the file names. Throws Error for an empty
// folder, a corrupt image or one that does not fit the input.
Dataset loadImageFolder(const Graph& g, const std::string& dir, const PreprocessProfile& p);
// Does `dir` hold at least one image file?
bool folderHasImages(const std::string& dir);

}  // namespace autosplit
