// autosplit export: a plan.json's selected plan as edge.onnx + cloud.onnx + manifest.json.
#include "command.h"
#include "plan_export.h"
#include "planning_setup.h"

#include "autosplit/deploy/triton.h"
#include "autosplit/planner/plan_io.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/file_io.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace autosplit::cli {
namespace {

const std::string kUsage = std::string(
    "usage: autosplit export PLAN.json --out DIR [--triton REPO [--triton-name NAME]]\n"
    "                        [--data DIR --labels F --dict F ...] [--quiet]\n"
    "\n"
    "Writes the selected plan of PLAN.json as two ONNX models and a manifest:\n"
    "  DIR/edge.onnx      nodes up to the split, standard-domain QDQ: int8 per-channel weights with\n"
    "                     DequantizeLinear(axis), every quantized activation as Clip -> QuantizeLinear ->\n"
    "                     DequantizeLinear; its outputs are the uint8 codes of the transmitted tensors\n"
    "  DIR/cloud.onnx     the rest, reading those codes (float16 values, float32 arithmetic)\n"
    "  DIR/manifest.json  plan hash, transmitted tensors (shape, bits, scale, zero point, packing),\n"
    "                     inputs/outputs, the frame limit and the planner's latency prediction\n"
    "The values are the ones the plan's accuracy was measured with (GPTQ weights, corrected biases,\n"
    "activation ranges), fitted again on the plan's calibration data: give the same data options as\n"
    "`autosplit plan` had (the model, its --input bindings and the devices come from PLAN.json; any\n"
    "of them may be given to override). Both models pass the ONNX checker before anything is written.\n"
    "  --out DIR          where to write (created; only the three files above are replaced)\n"
    "  --triton REPO      also write the cloud half as a Triton model repository: REPO/NAME/config.pbtxt\n"
    "                     and REPO/NAME/1/model.onnx, taking the packed codes (unpacked in the graph)\n"
    "  --triton-name N    the model's name in the repository [autosplit_cloud_<plan hash>]\n"
    "  --quiet            no summary\n") +
    kPlanningOptions;

int run(const Args& argv) {
    // PLAN.json is the first positional; the rest goes to the planning setup with the model,
    // bindings and devices of the plan filled in where the user did not give them.
    Args rest;
    std::string planPath;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (planPath.empty() && !a.empty() && a[0] != '-' && (i == 0 || argv[i - 1].rfind("--", 0) != 0 ||
                                                              argv[i - 1] == "--quiet" || argv[i - 1] == "--no-cache" ||
                                                              argv[i - 1] == "--no-equalize")) {
            planPath = a;
            continue;
        }
        rest.push_back(a);
    }
    if (planPath.empty()) throw UsageError{"expected PLAN.json"};
    const std::string text = readWholeFile(planPath);
    const planner::PlanDocument doc = planner::parsePlan(text, planPath);
    ArgReader probe(rest, kUsage);
    const std::string out = probe.value("--out");
    const std::string triton = probe.value("--triton");
    const std::string tritonName = probe.value("--triton-name");
    if (out.empty()) throw UsageError{"--out DIR is required"};
    Args setupArgs;
    for (size_t i = 0; i < rest.size(); ++i) {
        if (rest[i] == "--out" || rest[i] == "--triton" || rest[i] == "--triton-name") {
            ++i;
            continue;
        }
        if (rest[i].rfind("--out=", 0) == 0 || rest[i].rfind("--triton=", 0) == 0 || rest[i].rfind("--triton-name=", 0) == 0) continue;
        setupArgs.push_back(rest[i]);
    }
    const bool quiet = probe.flag("--quiet");
    setupArgs.erase(std::remove(setupArgs.begin(), setupArgs.end(), std::string("--quiet")), setupArgs.end());
    auto given = [&](const std::string& opt) {
        for (const auto& a : setupArgs)
            if (a == opt || a.rfind(opt + "=", 0) == 0) return true;
        return false;
    };
    if (!given("--edge")) setupArgs.insert(setupArgs.end(), {"--edge", doc.edgeDevice});
    if (!given("--cloud")) setupArgs.insert(setupArgs.end(), {"--cloud", doc.cloudDevice});
    if (!given("--input"))
        for (const auto& b : doc.inputBindings) setupArgs.insert(setupArgs.end(), {"--input", b});
    std::string model = doc.modelPath;
    if (!std::filesystem::exists(model)) {
        const auto beside = std::filesystem::path(planPath).parent_path() / std::filesystem::path(model).filename();
        if (std::filesystem::exists(beside)) model = beside.string();
        else throw Error(planPath + ": its model '" + doc.modelPath + "' is not there (nor beside the plan)");
    }
    setupArgs.push_back(model);
    ArgReader args(setupArgs, kUsage);
    PlanningSetup s = setupPlanning(args, quiet);
    exportSelectedPlan(s, text, planPath, out, quiet);
    if (!triton.empty()) {
        const deploy::TritonRepository repo = deploy::writeTritonRepository(out, triton, tritonName);
        if (!quiet)
            std::printf("  triton       %s/config.pbtxt and %s/1/model.onnx (platform onnxruntime_onnx)\n"
                        "               tritonserver --model-repository=%s\n",
                        repo.modelDir.c_str(), repo.modelDir.c_str(), triton.c_str());
    }
    return 0;
}

const Registrar reg({"export", "write a plan's edge/cloud sub-models (QDQ ONNX) and manifest", kUsage, run});

}  // namespace
}  // namespace autosplit::cli
