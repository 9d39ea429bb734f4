#include "planning_setup.h"

#include "autosplit/data/data_folder.h"

#include "autosplit/onnx/import.h"
#include "autosplit/planner/accuracy.h"
#include "autosplit/planner/plan_io.h"
#include "autosplit/quant/quantize.h"
#include "autosplit/util/errors.h"

#include <chrono>
#include <future>
#include <iostream>

namespace autosplit::cli {

const char* kPlanningOptions =
    "  --edge NAME|FILE.json   edge device (built-in: eyeriss, tpu)              [eyeriss]\n"
    "  --cloud NAME|FILE.json  cloud device                                      [tpu]\n"
    "  --edge-profile F.csv    measured per-layer latencies of the edge device\n"
    "  --edge-memory SIZE      e.g. 4GiB, 512MB                 [the edge device's off-chip memory]\n"
    "  --max-drop P%           accuracy-drop threshold, 0..100%                  [5%]\n"
    "  --message-overhead T    fixed cost per transmitted tensor, e.g. 1ms, 200us [1ms]\n"
    "  --link-overhead P       wire bytes beyond the payload, e.g. 4.56% (TCP/IPv4 + Ethernet at MTU 1500,\n"
    "                          measured by scripts/measure-link.sh), 0 for the payload alone [4.56%]\n"
    "  --results-at edge|cloud where the results are consumed: graph outputs computed on the other\n"
    "                          side are sent there (downlink / uplink) and costed  [edge]\n"
    "  --downlink RATE         cloud-to-edge bandwidth for results, e.g. 10Mbps    [10Mbps]\n"
    "  --bits 2,4,6,8          edge bit set B                                    [2,4,6,8]\n"
    "  --data DIR | --synthetic N  calibration and measurement inputs: DIR holds images (.png/.jpg) or\n"
    "                          one .pb/.npy tensor per sample                    [--synthetic 8]\n"
    "                          The set is cut in two disjoint parts (seeded shuffle): calibration\n"
    "                          (ranges, error table, GPTQ, bias correction) and the held-out\n"
    "                          measurement of every accuracy drop.\n"
    "  --calibration-samples N, --measure-samples N  sizes of the two parts\n"
    "                          [half each, calibration at most 64]\n"
    "  --labels FILE           \"FILE<TAB>LABEL\" lines: class indices, or the text of each line with\n"
    "                          --dict (the drop is then a task metric against the ground truth)\n"
    "  --dict KEYS.txt         CTC character dictionary (PaddleOCR keys): recognizer task\n"
    "  --preprocess FILE.json  how images become the input tensor       [DIR/preprocess.json]\n"
    "  --allocator exact|lagrangian  bit-allocation solver                        [exact]\n"
    "  --task auto|classifier|ctc|binary-map  accuracy metric: auto = CTC with --dict, top-1 for\n"
    "                          [N, C] outputs, binary-map for [N, 1, H, W] sigmoid maps, else\n"
    "                          relative L2 (a proxy, not a task metric); binary-map = F1 of the map\n"
    "                          above --map-threshold vs the float map (DB text detectors)  [auto]\n"
    "  --map-threshold T       binarization threshold (needs --task binary-map)  [0.3]\n"
    "  --accept-by estimate|upper-bound  which number of a measured drop must be within\n"
    "                          --max-drop: the point estimate or the upper end of its 95% interval\n"
    "                          [estimate]\n"
    "  --no-equalize           keep activation ranges as the model has them (no per-channel rescaling\n"
    "                          of the tensors convs read; see the README)\n"
    "  --sensitivity N         scale each node's proxy terms by its measured effect on the outputs\n"
    "                          (each node quantized alone on N calibration samples; one run per\n"
    "                          node and sample; how it ranks: bench_proxy)  [0]\n"
    "  --cache DIR | --no-cache  error-table cache                               [~/.cache/autosplit]\n"
    "  --threads N             worker threads for calibration/evaluation (0 = all cores)\n"
    "  --input NAME=DIMS       bind an input's symbolic dims, e.g. --input x=1x3x640x640\n";

PlanningSetup setupPlanning(ArgReader& args, bool quiet) {
    PlanningSetup s;
    const std::string edgeName = args.value("--edge", "eyeriss");
    const std::string cloudName = args.value("--cloud", "tpu");
    const std::string edgeProfile = args.value("--edge-profile");
    const std::string memory = args.value("--edge-memory");
    const std::string uplink = args.value("--uplink", "3Mbps");
    const std::string drop = args.value("--max-drop", "5%");
    const std::string overhead = args.value("--message-overhead", "1ms");
    const std::string linkOverhead = args.value("--link-overhead");
    const std::string resultsAt = args.value("--results-at", "edge");
    const std::string downlink = args.value("--downlink", "10Mbps");
    const std::string bits = args.value("--bits", "2,4,6,8");
    const std::string dataDir = args.value("--data");
    const std::string synth = args.value("--synthetic");
    const std::string preprocess = args.value("--preprocess");
    const std::string allocator = args.value("--allocator", "exact");
    const std::string task = args.value("--task", "auto");
    const std::string labels = args.value("--labels");
    const std::string dict = args.value("--dict");
    const std::string calibSamples = args.value("--calibration-samples");
    const std::string measureSamples = args.value("--measure-samples");
    const std::string acceptBy = args.value("--accept-by", "estimate");
    const std::string mapThreshold = args.value("--map-threshold");
    const std::string cache = args.value("--cache");
    const bool noCache = args.flag("--no-cache");
    const bool noEqualize = args.flag("--no-equalize");
    const int threads = parseIntOption(args.value("--threads", "0"), "--threads");
    const int sensitivity = parseIntOption(args.value("--sensitivity", "0"), "--sensitivity");
    if (sensitivity < 0) throw UsageError{"--sensitivity must be 0 or more samples"};
    if (!dataDir.empty() && !synth.empty()) throw UsageError{"give at most one of --data DIR and --synthetic N"};
    if (!preprocess.empty() && dataDir.empty()) throw UsageError{"--preprocess needs --data DIR (a folder of images)"};
    if (allocator != "exact" && allocator != "lagrangian") throw UsageError{"--allocator must be exact or lagrangian"};
    EvalOptions eo;
    eo.threads = threads;
    if (task != "auto" && task != "classifier" && task != "ctc" && task != "binary-map")
        throw UsageError{"--task must be auto, classifier, ctc or binary-map"};
    if (task == "ctc" && dict.empty()) throw UsageError{"--task ctc needs --dict KEYS.txt"};
    if (!labels.empty() && dataDir.empty()) throw UsageError{"--labels needs --data DIR (labels name its files)"};
    if (acceptBy != "estimate" && acceptBy != "upper-bound") throw UsageError{"--accept-by must be estimate or upper-bound"};
    applyTaskOptions(eo, task, mapThreshold);

    // Everything that can be checked without the model first.
    const sim::DeviceProfile edge = sim::resolveDevice(edgeName);
    const sim::DeviceProfile cloud = sim::resolveDevice(cloudName);
    std::optional<sim::MeasuredProfile> measured;
    if (!edgeProfile.empty()) measured = sim::loadMeasuredProfile(edgeProfile);
    s.constraints.uplinkBps = parseBandwidth(uplink);
    s.constraints.edgeMemoryBytes = memory.empty() ? edge.offchipBytes : parseBytes(memory);
    s.constraints.maxDropPercent = parsePercent(drop);
    s.constraints.messageOverheadMs = parseMilliseconds(overhead);
    if (!linkOverhead.empty()) s.constraints.linkOverhead = parsePercent(linkOverhead) / 100.0;
    if (acceptBy == "upper-bound") s.constraints.acceptance = planner::Constraints::Acceptance::UpperBound;
    const auto at = planner::resultsAtFromName(resultsAt);
    if (!at) throw UsageError{"--results-at must be edge or cloud, got '" + resultsAt + "'"};
    s.constraints.resultsAt = *at;
    s.constraints.downlinkBps = parseBandwidth(downlink);
    s.constraints.validate();
    planner::ContextOptions co;
    co.bits = parseBitList(bits, 8, "2, 4, 6, 8");
    co.allocator = allocator == "exact" ? planner::Allocator::Exact : planner::Allocator::Lagrangian;
    int synthetic = 8;
    if (!synth.empty()) {
        synthetic = parseIntOption(synth, "--synthetic");
        if (synthetic < 2) throw UsageError{"--synthetic needs at least 2 inputs (one to calibrate, one to measure)"};
    }
    auto sampleCount = [](const std::string& v, const char* name) {
        if (v.empty()) return 0;
        const int n = parseIntOption(v, name);
        if (n < 1) throw UsageError{std::string(name) + " needs a positive count"};
        return n;
    };
    const int calibrationSamples = sampleCount(calibSamples, "--calibration-samples");
    const int measurementSamples = sampleCount(measureSamples, "--measure-samples");

    // loadModel consumes --input bindings and MODEL; read them on a copy for the plan's record.
    ArgReader probe = args;
    const auto bindings = probe.valuesIf("--input", isInputBinding);
    const auto positional = probe.positionals();
    if (positional.size() == 1) s.modelPath = positional.front();
    LoadedModel model = loadModel(args, quiet);

    planner::DataSource source;
    source.folder = dataDir;
    source.preprocess = preprocess;
    source.synthetic = synthetic;
    source.labels = labels;
    source.dictionary = dict;
    source.calibrationSamples = calibrationSamples;
    source.measurementSamples = measurementSamples;
    planner::SessionData data = withWarnings(quiet, [&](auto* w) { return planner::loadData(model.graph, source, w); });
    if (!quiet)
        std::cerr << "data: calibrating on " << data.record.calibrationSamples << ", measuring on "
                  << data.record.measurementSamples << " held-out samples (" << data.record.measurement << ")\n";

    planner::SessionOptions so;
    so.context = co;
    so.context.progress = [quiet](const std::string& stage, int done, int total) {
        if (!quiet && done == total) std::cerr << "planning: " << stage << " done\n";
    };
    so.eval = eo;
    so.equalize = !noEqualize;
    so.sensitivitySamples = sensitivity;
    so.threads = threads;
    so.cacheDir = noCache ? std::string() : (cache.empty() ? defaultCacheDir() : cache);
    so.report = [quiet](const std::string& line) {
        if (!quiet) std::cerr << line << "\n";
    };
    // The model file's SHA-256 (the plan's model identity) on a thread of its own meanwhile.
    auto modelSha256 = std::async(std::launch::async, [path = s.modelPath] { return planner::sha256File(path); });
    so.context.progress("latency tables", 0, 2);
    auto cost = planner::CostModel::build(model.graph, edge, cloud, planner::PlanningContext::costOptions(co),
                                          measured ? &*measured : nullptr);
    so.context.progress("latency tables", 2, 2);
    planner::ModelSource src;
    src.path = s.modelPath;
    src.sha256 = modelSha256.get();
    src.inputBindings = bindings;
    s.session = planner::buildPlanningSession(std::move(model.graph), std::move(cost), std::move(data), std::move(src), so);
    s.ctx = s.session->context;
    s.measure = s.session->measure;
    return s;
}

}  // namespace autosplit::cli
