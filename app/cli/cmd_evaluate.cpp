// autosplit evaluate: fake-quant evaluation of one split plan against the float model.
#include "command.h"
#include "autosplit/data/data_folder.h"
#include "model_loading.h"

#include "autosplit/eval/bits_file.h"
#include "autosplit/eval/labels.h"
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/eval/text_metrics.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/file_io.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>

namespace autosplit::cli {
namespace {

const char* kUsage =
    "usage: autosplit evaluate MODEL.onnx --split N|NODE (--bits FILE.json | --uniform W,A)\n"
    "                          (--data DIR | --synthetic N) [--labels FILE] [--dict KEYS.txt]\n"
    "                          [--preprocess PROFILE.json] [--input-bits B] [--calibration DIR | --dynamic]\n"
    "                          [--clip mse|minmax|aciq-laplace|aciq-gauss|percentile] [--threads N]\n"
    "                          [--layer-inputs] [--bias-correction empirical|weight|none] [--nearest] [--no-equalize]\n"
    "                          [--cache DIR | --no-cache]\n"
    "                          [--task auto|classifier|ctc|binary-map] [--map-threshold T]\n"
    "                          [--input NAME=DIMS]... [--json]\n\n"
    "Runs the plan with nodes [0, N] on the edge (weights per channel at their bits, activations per\n"
    "tensor, tensors crossing the cut at their producer's bits) and the rest in float16, and compares\n"
    "with the float model: top-1 agreement/accuracy (classifiers), character accuracy (CTC\n"
    "recognizers, --dict), relative MSE and SQNR of every output, and one accuracy drop.\n"
    "N = -1 is Cloud-Only (the input sent at --input-bits, default 8); the last node is Edge-Only.\n"
    "--bits: {\"weight_bits\": {\"node\": 8, ...}, \"activation_bits\": {...}} or per-node arrays, or a\n"
    "plan.json (its \"selected\" plan); see the README. --uniform 8,8 gives every edge node the same.\n"
    "DIR holds images (with preprocess.json or --preprocess) or .pb/.npy tensors; --labels FILE has\n"
    "\"FILE<TAB>LABEL\" lines (class index, or the text for --dict). Activation ranges come from a\n"
    "calibration (cached) on --calibration DIR (also GPTQ and bias correction: the drop is then held\n"
    "out, with a 95% interval) or on the evaluation data; --dynamic fits them per input.\n"
    "Every edge node's outputs are quantized at its activation bits, as the planner costs them\n"
    "(--layer-inputs, an experiment: only what a Conv/Gemm/MatMul reads and what is sent; vector-unit\n"
    "chains stay float). Image inputs are the sensor's 8-bit pixels, sent as they are at 8 bits.\n"
    "Before calibration the tensors convs read are equalized per channel (float-exact; --no-equalize\n"
    "keeps them). Biases absorb the mean shift\n"
    "of quantization as the plan computes it (--bias-correction empirical; weight: the weight error\n"
    "only; none). Weights at 2-8 bits are rounded by GPTQ against\n"
    "the layer inputs of the evaluation data (same grid; an extra float pass); --nearest rounds each\n"
    "weight on its own. --task binary-map (detected for [N, 1, H, W] sigmoid outputs) scores output 0\n"
    "as a probability map: F1 of its pixels above --map-threshold (0.3, PaddleOCR's DB threshold)\n"
    "against the float model's (text detectors).\n";


nlohmann::ordered_json number(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); }

int run(const Args& argv) {
    ArgReader args(argv, kUsage);
    const std::string splitArg = args.value("--split");
    const std::string bitsFile = args.value("--bits");
    const std::string uniform = args.value("--uniform");
    const std::string dataDir = args.value("--data");
    const std::string synth = args.value("--synthetic");
    const std::string labelsFile = args.value("--labels");
    const std::string dictFile = args.value("--dict");
    const std::string profile = args.value("--preprocess");
    const std::string inputBits = args.value("--input-bits");
    const std::string calibDir = args.value("--calibration");
    const bool dynamic = args.flag("--dynamic");
    const bool layerInputs = args.flag("--layer-inputs");
    const std::string biasCorrection = args.value("--bias-correction", "empirical");
    const bool noEqualize = args.flag("--no-equalize");
    const bool nearestRounding = args.flag("--nearest");
    const std::string task = args.value("--task", "auto");
    const std::string mapThreshold = args.value("--map-threshold");
    const std::string clip = args.value("--clip", "mse");
    const int threads = parseIntOption(args.value("--threads", "0"), "--threads");
    const std::string cache = args.value("--cache");
    const bool noCache = args.flag("--no-cache");
    const bool json = args.flag("--json");
    if (dataDir.empty() == synth.empty()) throw UsageError{"give exactly one of --data DIR and --synthetic N"};
    if (bitsFile.empty() == uniform.empty()) throw UsageError{"give exactly one of --bits FILE.json and --uniform W,A"};
    if (!uniform.empty() && splitArg.empty()) throw UsageError{"--uniform needs --split N"};
    if (dynamic && !calibDir.empty()) throw UsageError{"--dynamic and --calibration exclude each other"};
    if (!labelsFile.empty() && dataDir.empty()) throw UsageError{"--labels needs --data DIR (labels name its files)"};
    EvalOptions eo;
    eo.threads = threads;
    eo.quant.clip = parseClipMethod(clip);
    if (layerInputs) eo.activationScope = EvalOptions::ActivationScope::LayerInputs;
    if (biasCorrection == "none") eo.biasCorrection = EvalOptions::BiasCorrection::None;
    else if (biasCorrection == "weight") eo.biasCorrection = EvalOptions::BiasCorrection::Weight;
    else if (biasCorrection != "empirical") throw UsageError{"--bias-correction must be empirical, weight or none"};
    if (nearestRounding) eo.weightRounding = EvalOptions::WeightRounding::Nearest;
    applyTaskOptions(eo, task, mapThreshold);
    LoadedModel m = loadModel(args, json);
    const Graph& g = m.graph;  // equalized in place below, before calibration

    std::optional<int> split;
    if (!splitArg.empty()) {
        const int byName = g.findNode(splitArg);
        split = byName >= 0 ? byName : parseIntOption(splitArg, "--split");
    }
    PlanBits plan;
    if (!bitsFile.empty()) {
        plan = parsePlanBits(g, readWholeFile(bitsFile), bitsFile, split).bits;
    } else {
        const auto comma = uniform.find(',');
        if (comma == std::string::npos) throw UsageError{"--uniform needs W,A (e.g. 8,8)"};
        plan = PlanBits::uniform(g, *split, parseIntOption(uniform.substr(0, comma), "--uniform"), parseIntOption(uniform.substr(comma + 1), "--uniform"));
    }
    if (!inputBits.empty()) plan.inputBits = parseIntOption(inputBits, "--input-bits");
    validatePlan(g, plan);  // before any data is read or calibrated

    EvalData data;
    if (!synth.empty()) {
        const int n = parseIntOption(synth, "--synthetic");
        if (n < 1) throw UsageError{"--synthetic needs a positive count"};
        data.inputs = syntheticDataset(g, n);
        if (!json) std::cerr << "warning: evaluating on " << data.inputs.description << "; metrics reflect random data\n";
    } else {
        data.inputs = withWarnings(json, [&](auto* w) { return loadDataFolder(g, dataDir, profile, w); });
    }
    if (!dictFile.empty()) eo.ctcDictionary = loadCtcDictionary(dictFile);
    if (!labelsFile.empty()) {
        auto labels = readLabelFile(labelsFile, data.inputs.sampleNames);
        if (!eo.ctcDictionary.empty()) data.texts = std::move(labels);
        else data.labels = classLabels(labels, data.inputs.sampleNames);
    }

    Dataset separate;  // --calibration DIR; else the evaluation data itself (not copied)
    if (!calibDir.empty()) separate = withWarnings(json, [&](auto* w) { return loadDataFolder(g, calibDir, profile, w); });
    const Dataset& calib = calibDir.empty() ? data.inputs : separate;
    if (calibDir.empty() && !json)
        std::cerr << "warning: calibrating on the evaluation data itself (give --calibration DIR to hold it out)\n";
    const std::string cacheDir = noCache ? std::string() : (cache.empty() ? defaultCacheDir() : cache);
    equalizeModel(m.graph, calib, !noEqualize, threads, json, cacheDir);
    std::optional<ErrorTable> table;
    if (!dynamic) {
        CalibrationOptions co;
        co.quant = eo.quant;
        co.threads = threads;
        co.cacheDir = cacheDir;
        // Fit the bit widths the plan uses (and the usual ones, so the cache entry is shared).
        co.bits = {2, 4, 6, 8};
        table = calibrate(g, calib, co);
    }

    if (!calibDir.empty()) data.calibration = std::move(separate);  // GPTQ and bias correction too
    const auto t0 = std::chrono::steady_clock::now();
    const PlanEvaluator ev(g, std::move(data), table ? &*table : nullptr, eo);
    const auto t1 = std::chrono::steady_clock::now();
    const EvalMetrics r = ev.evaluate(plan);
    const double evalSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    const double refSeconds = std::chrono::duration<double>(t1 - t0).count();

    const int N = static_cast<int>(g.nodes.size());
    std::map<std::string, int> hist;  // "w8a8" -> count over edge nodes
    for (int i = 0; i <= plan.splitPosition; ++i)
        hist["w" + std::to_string(plan.weightBits[static_cast<size_t>(i)]) + "a" + std::to_string(plan.activationBits[static_cast<size_t>(i)])]++;
    const std::string where = plan.splitPosition < 0 ? "cloud-only"
                              : plan.splitPosition == N - 1 ? "edge-only"
                                                            : "after node " + std::to_string(plan.splitPosition) + " '" +
                                                                  g.nodes[static_cast<size_t>(plan.splitPosition)].name + "'";
    if (json) {
        nlohmann::ordered_json j;
        j["split_position"] = plan.splitPosition;
        j["split"] = where;
        j["edge_nodes"] = plan.splitPosition + 1;
        j["input_bits"] = plan.inputBits;
        j["bits_histogram"] = hist;
        j["task"] = evalTaskName(r.task);
        j["samples"] = r.samples;
        j["data"] = ev.dataDescription();
        j["activation_params"] = table ? "calibrated (" + table->dataDescription + ")" : std::string("per input");
        j["metric"] = r.metricName;
        j["accuracy_drop"] = number(r.accuracyDrop);
        j["interval_95"] = {{"low", number(r.dropInterval.low)}, {"high", number(r.dropInterval.high)}, {"method", r.dropInterval.method}};
        j["calibration_samples"] = r.calibrationSamples;
        j["held_out"] = r.heldOut;
        j["relative_mse"] = number(r.relativeMse);
        j["sqnr_db"] = number(r.sqnrDb);
        auto opt = [](const std::optional<double>& v) { return v ? number(*v) : nlohmann::ordered_json(nullptr); };
        j["top1_agreement"] = opt(r.top1Agreement);
        j["top1_accuracy"] = opt(r.top1Accuracy);
        j["float_top1_accuracy"] = opt(r.floatTop1Accuracy);
        j["char_accuracy"] = opt(r.charAccuracy);
        j["float_char_accuracy"] = opt(r.floatCharAccuracy);
        j["char_agreement"] = opt(r.charAgreement);
        j["map_f1"] = opt(r.mapF1);
        nlohmann::ordered_json outs = nlohmann::ordered_json::array();
        for (const auto& o : r.outputs) outs.push_back({{"name", o.name}, {"relative_mse", number(o.relativeMse)}, {"sqnr_db", number(o.sqnrDb)}});
        j["outputs"] = outs;
        j["seconds"] = {{"float_reference", refSeconds}, {"plan", evalSeconds}};
        std::cout << j.dump(1) << "\n";
        return 0;
    }
    std::printf("plan: split %s, %d edge node(s), input %d bits;", where.c_str(), plan.splitPosition + 1, plan.inputBits);
    for (const auto& [k, n] : hist) std::printf(" %s x%d", k.c_str(), n);
    std::printf("\ndata: %s (%s), activation ranges %s\n", ev.dataDescription().c_str(), evalTaskName(r.task),
                table ? ("calibrated on " + table->dataDescription + (table->fromCache ? ", cached" : "")).c_str() : "fitted per input");
    if (r.top1Agreement) std::printf("top-1 agreement     %7.2f %%\n", *r.top1Agreement);
    if (r.top1Accuracy) std::printf("top-1 accuracy      %7.2f %%   (float %.2f %%)\n", *r.top1Accuracy, *r.floatTop1Accuracy);
    if (r.charAccuracy) std::printf("char accuracy       %7.2f %%   (float %.2f %%)\n", *r.charAccuracy, *r.floatCharAccuracy);
    if (r.charAgreement) std::printf("char agreement      %7.2f %%   (vs float decodes)\n", *r.charAgreement);
    if (r.mapF1) std::printf("map F1              %7.2f %%   (pixels > %.2f vs the float map)\n", *r.mapF1, eo.mapThreshold);
    for (const auto& o : r.outputs) std::printf("output %-24s relative MSE %.4g, SQNR %.2f dB\n", o.name.c_str(), o.relativeMse, o.sqnrDb);
    std::printf("accuracy drop       %7.3f     (%s), 95%% interval [%.3f, %.3f] (%s)\n", r.accuracyDrop, r.metricName.c_str(),
                r.dropInterval.low, r.dropInterval.high, r.dropInterval.method.c_str());
    std::printf("held out            %s (calibrated on %d samples, measured on %d)\n",
                r.heldOut ? "yes" : "no: calibrated on the measured samples", r.calibrationSamples, r.samples);
    std::printf("time: float reference %.2f s, plan %.2f s (%d samples)\n", refSeconds, evalSeconds, r.samples);
    return 0;
}

const Registrar reg({"evaluate", "fake-quant accuracy of a split plan against the float model", kUsage, run});

}  // namespace
}  // namespace autosplit::cli
