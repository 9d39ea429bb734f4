// Latency of every split position at uniform bit-widths (edge layers at one width, cloud
// layers at 16 bits), from the simulator's latency tables and the uplink bandwidth, plus the
// edge-memory check. It is the fast re-scoring step a slider drag triggers: the tables are
// built once per model and devices, here we only sum prefix ranges. It carries no accuracy
// model (that is the planner's ErrorTable), so it picks the lowest-latency feasible split.
#pragma once

#include "autosplit/engine/model_session.h"
#include "autosplit/util/cancel.h"

#include <QMetaType>

#include <cstdint>
#include <memory>
#include <vector>

namespace autosplit::engine {

struct Constraints {
    double uplinkMbps = 10.0;           // 1 Mbps = 1e6 bits per second
    double edgeMemoryMiB = 64.0;        // weights + peak activations on the edge
    double maxAccuracyDropPct = 5.0;    // for the planner; the uniform-bit estimate ignores it
    std::vector<int> bitSet{2, 4, 6, 8};  // edge widths the user allows, ascending
    int inputBits = 8;                  // raw input (image) bits when the input is sent

    bool operator==(const Constraints&) const = default;
};

struct SplitCost {
    int position = -1;         // nodes [0, position] on the edge
    int weightBits = 8;        // edge widths (cloud runs at cloudBits)
    int activationBits = 8;
    double edgeUs = 0;
    double transmitUs = 0;
    double cloudUs = 0;
    int64_t transmittedBits = 0;
    int64_t edgeMemoryBits = 0;  // weights + peak activations of the edge prefix
    bool fitsMemory = true;

    double totalUs() const { return edgeUs + transmitUs + cloudUs; }
};

struct SplitEstimates {
    quint64 generation = 0;      // of the job that computed it
    quint64 requestSerial = 0;   // Engine::requestEstimate call whose constraints it reflects
    Constraints constraints;
    int edgeBits = 8;            // uniform edge width used (highest allowed width <= 8)
    int cloudBits = 16;
    std::vector<SplitCost> splits;  // index = position + 1
    int best = -1;               // position of the fastest split that fits edge memory; -2 if none
    double computeMs = 0;
    // The planner's answer for the same constraints: a fast estimate first (accuracy only where
    // already measured), then a refined one with measured drops (`measured` = true).
    std::shared_ptr<const planner::PlanSet> plans;
    bool measured = false;
    double replanMs = 0;

    const SplitCost& at(int position) const { return splits[size_t(position + 1)]; }
    const SplitCost& cloudOnly() const { return splits.front(); }
    const SplitCost& edgeOnly() const { return splits.back(); }
};

// Highest width in `bitSet` the edge device runs, preferring <= 8 (lossless INT8 is the
// paper's uniform baseline); -1 when the set and the device share no width.
int uniformEdgeBits(const std::vector<int>& bitSet, const sim::DeviceProfile& edge);

// Polls `cancel` every few hundred splits. Throws Error when the devices share no usable width.
SplitEstimates estimateSplits(const ModelSession& session, const Constraints& c, const CancelToken& cancel = {});

// Cost of one split at explicit edge widths (cloud at its highest width <= 16).
planner::Constraints plannerConstraints(const Constraints& c);

SplitCost costOfSplit(const ModelSession& session, int position, int wbits, int abits, const Constraints& c);

}  // namespace autosplit::engine

Q_DECLARE_METATYPE(std::shared_ptr<const autosplit::engine::SplitEstimates>)
