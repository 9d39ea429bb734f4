// autosplit calibrate: per-layer quantization error tables D_w / D_a (cached on disk).
#include "command.h"
#include "autosplit/data/data_folder.h"
#include "model_loading.h"

#include "autosplit/quant/calibration.h"
#include "autosplit/util/errors.h"

#include <chrono>
#include <cstdio>
#include <iostream>

namespace autosplit::cli {
namespace {

const char* kUsage =
    "usage: autosplit calibrate MODEL.onnx (--data DIR | --synthetic N) [--input NAME=DIMS]...\n"
    "                           [--bits 2,4,6,8] [--clip mse|minmax|aciq-laplace|aciq-gauss|percentile]\n"
    "                           [--preprocess PROFILE.json] [--threads N] [--cache DIR | --no-cache]\n"
    "                           [--no-equalize] [--json]\n\n"
    "Runs the optimized float model over the calibration inputs and prints, per layer and bit width,\n"
    "the weight MSE D_w (per-channel symmetric) and activation MSE D_a (per tensor; unsigned after\n"
    "ReLU-like layers). DIR holds images (.png/.jpg, preprocessed by --preprocess or DIR/preprocess.json)\n"
    "or one .pb (TensorProto) / .npy tensor per input. The tensors convs read are first equalized per\n"
    "channel on the same inputs, as plan and evaluate do (--no-equalize keeps them). Tables are cached\n"
    "in $AUTOSPLIT_CACHE or ~/.cache/autosplit keyed by model and data hashes.\n";

int run(const Args& argv) {
    ArgReader args(argv, kUsage);
    const std::string dataDir = args.value("--data");
    const std::string synth = args.value("--synthetic");
    const std::string bits = args.value("--bits", "2,4,6,8");
    const std::string clip = args.value("--clip", "mse");
    const std::string threads = args.value("--threads", "0");
    const std::string cache = args.value("--cache");
    const std::string profile = args.value("--preprocess");
    const bool noCache = args.flag("--no-cache");
    const bool noEqualize = args.flag("--no-equalize");
    const bool json = args.flag("--json");
    if (dataDir.empty() == synth.empty()) throw UsageError{"give exactly one of --data DIR and --synthetic N"};
    CalibrationOptions o;
    o.bits = parseBitList(bits, 16, "2, 4, 6, 8, 16");
    o.quant.clip = parseClipMethod(clip);
    try {
        o.threads = std::stoi(threads);
    } catch (const std::exception&) {
        throw UsageError{"--threads needs a number"};
    }
    o.cacheDir = noCache ? std::string() : (cache.empty() ? defaultCacheDir() : cache);
    LoadedModel m = loadModel(args, json);
    Dataset set;
    if (!synth.empty()) {
        int n = 0;
        try {
            n = std::stoi(synth);
        } catch (const std::exception&) {
        }
        if (n < 1) throw UsageError{"--synthetic needs a positive count"};
        set = syntheticDataset(m.graph, n);
        std::cerr << "warning: calibrating on " << set.description
                  << "; errors reflect random data, not the model's real inputs\n";
    } else {
        set = withWarnings(json, [&](auto* w) { return loadDataFolder(m.graph, dataDir, profile, w); });
    }
    equalizeModel(m.graph, set, !noEqualize, o.threads, json, o.cacheDir);
    const ErrorTable t = calibrate(m.graph, set, o);
    if (json) {
        std::cout << errorTableToJson(t) << "\n";
        return 0;
    }
    std::printf("calibration: %s, clip %s, %s\n", t.dataDescription.c_str(), t.clip.c_str(),
                t.fromCache ? "loaded from cache" : ("computed in " + std::to_string(t.seconds) + " s").c_str());
    std::printf("%-4s %-34s %-14s", "#", "layer", "op");
    for (int b : t.bits) std::printf(" %11s", ("Dw@" + std::to_string(b)).c_str());
    for (int b : t.bits) std::printf(" %11s", ("Da@" + std::to_string(b)).c_str());
    std::printf("\n");
    for (const auto& r : t.rows) {
        std::string name = r.name.size() > 34 ? "..." + r.name.substr(r.name.size() - 31) : r.name;
        std::printf("%-4d %-34s %-14s", r.node, name.c_str(), r.op.c_str());
        for (double v : r.weightMse) std::printf(" %11.4g", v);
        for (double v : r.activationMse) std::printf(" %11.4g", v);
        std::printf("\n");
    }
    return 0;
}

const Registrar reg({"calibrate", "per-layer quantization error tables (weight/activation MSE)", kUsage, run});

}  // namespace
}  // namespace autosplit::cli
