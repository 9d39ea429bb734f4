// Shared by the CLI commands: import + optimize a model from command-line options, printing
// import warnings to stderr.
#pragma once

#include "command.h"

#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/ir/graph.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/planner/session.h"
#include "autosplit/quant/equalize.h"

#include <iostream>
#include <string>
#include <vector>

namespace autosplit::cli {

using planner::LoadedModel;

// `--input NAME=DIMS` (a binding) rather than `--input [NAME=]FILE` (a file for `autosplit run`).
bool isInputBinding(const std::string& value);

// Reads every --input NAME=DIMS from `args` (other --input values, e.g. files, stay unread), then
// the single positional MODEL.onnx (so call it after reading all other options), imports and
// optimizes the model.
LoadedModel loadModel(ArgReader& args, bool quiet = false);

// Activation equalization (equalize.h) of the loaded model on the calibration data, before it is
// calibrated; says "equalization: ..." on stderr unless quiet. Skipped when !enabled.
EqualizeReport equalizeModel(Graph& g, const Dataset& data, bool enabled, int threads, bool quiet, const std::string& cacheDir);

// Runs load(&warnings) and prints each warning as "warning: …" on stderr unless `quiet`.
template <class F>
auto withWarnings(bool quiet, F&& load) {
    std::vector<std::string> warnings;
    auto result = load(&warnings);
    if (!quiet)
        for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
    return result;
}

std::string shapeString(const std::vector<int64_t>& shape);
// An integer option value; UsageError "OPTION needs a number, got '…'" otherwise.
int parseIntOption(const std::string& s, const char* option);
// --task NAME (parseEvalTask: Error on an unknown name) and --map-threshold T (a finite number,
// only with --task binary-map; UsageError otherwise) into eo.task / eo.mapThreshold.
void applyTaskOptions(EvalOptions& eo, const std::string& task, const std::string& mapThreshold);
// "--bits 2,4,8": each item a supported width (quantize.h) no larger than maxBits; UsageError
// "--bits: 'X' is not one of <allowed>" otherwise.
std::vector<int> parseBitList(const std::string& s, int maxBits, const char* allowed);

}  // namespace autosplit::cli
