#include "plan_export.h"

#include "autosplit/deploy/export_plan.h"
#include "autosplit/eval/bits_file.h"
#include "autosplit/planner/plan_io.h"
#include "autosplit/util/units.h"

#include <cstdio>

namespace autosplit::cli {

deploy::Manifest exportSelectedPlan(const PlanningSetup& s, const std::string& planText, const std::string& planName,
                                    const std::string& dir, bool quiet) {
    const planner::PlanDocument doc = planner::parsePlan(planText, planName);
    const auto& ctx = *s.ctx;
    if (doc.modelSha256 != ctx.model().sha256)
        throw Error(planName + " was made for another model (sha256 " + doc.modelSha256.substr(0, 12) + "..., this one " +
                    ctx.model().sha256.substr(0, 12) + "...)");
    // The exported values (GPTQ weights, corrected biases, activation ranges) are fitted on the
    // calibration set: it must be the plan's.
    if (!doc.calibrationDataHash.empty() && doc.calibrationDataHash != ctx.errors().dataHash)
        throw Error(planName + " was calibrated on other data (" + doc.calibrationData + ") than this session (" +
                    ctx.errors().dataDescription +
                    "): pass the plan's --data and --calibration-samples options");
    const Graph& g = ctx.graph();
    const PlanBits bits = parsePlanBits(g, planText, planName).bits;
    if (!quiet) std::fprintf(stderr, "export: fitting the plan's values on %d calibration samples...\n", s.session->evaluator()->calibrationSamples());
    const PlanDeployment d = s.session->evaluator()->deployment(bits);
    deploy::Manifest m = deploy::writeExport(g, bits, d, doc, dir);
    if (!quiet) {
        std::printf("exported %s (%s", dir.c_str(), m.kind.c_str());
        if (!m.splitAfter.empty()) std::printf(" after '%s'", m.splitAfter.c_str());
        std::printf(", plan hash %s)\n", m.planHash.c_str());
        std::printf("  edge.onnx    %d int weights, %d quantized activations\n", m.quantizedWeights,
                    m.quantizedActivations);
        for (const auto& w : m.transmitted)
            std::printf("  transmitted  '%s' %s %d bits, scale %g, zero point %d: %s\n", w.wireName.c_str(),
                        deploy::wireTypeName(w.type), w.bits, w.scale, w.zeroPoint, formatBytes(w.payloadBytes()).c_str());
        std::printf("  cloud.onnx   %s\n", m.cloudModel.empty() ? "none (Edge-Only)" : "float16 values, float32 arithmetic");
        std::printf("  predicted    %.2f ms (edge %.2f + transmit %.2f + cloud %.2f + results %.2f)\n", m.predicted.totalMs,
                    m.predicted.edgeMs, m.predicted.transmitMs, m.predicted.cloudMs, m.predicted.resultsMs);
    }
    // The exported files themselves, run over the plan's held-out samples: their drop is the plan's.
    const EvalMetrics em = deploy::measureExport(g, dir, *s.session->evaluator());
    if (!quiet) {
        std::printf("  measured     the exported pair: drop %.3f%% %s [%.3f, %.3f] on %d %ssamples", em.accuracyDrop,
                    em.metricName.c_str(), em.dropInterval.low, em.dropInterval.high, em.samples, em.heldOut ? "held-out " : "");
        if (doc.selected.accuracyDrop) std::printf(" (the plan measured %.3f%%)", *doc.selected.accuracyDrop);
        std::printf("\n");
    }
    return m;
}

}  // namespace autosplit::cli
