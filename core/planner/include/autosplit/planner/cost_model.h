// The one latency and memory model of a split, shared by the planner, its baselines and the
// window: edge µs from the edge device's latency table, transmission = bits of the tensors
// crossing the cut / uplink + one message overhead per tensor, cloud µs from the cloud
// device's table at the cloud width, results = the graph outputs computed on the other side
// from where they are consumed (Constraints::resultsAt), sent the same way over the downlink
// (results at the edge) or the uplink (results at the cloud); edge memory = weights + activation working set
// (ir/analysis.h edgeMemory). Built once per model structure and devices (no calibration
// needed), immutable, shared between threads.
#pragma once

#include "autosplit/ir/analysis.h"
#include "autosplit/ir/graph.h"
#include "autosplit/planner/constraints.h"
#include "autosplit/sim/device.h"
#include "autosplit/sim/latency_table.h"
#include "autosplit/sim/measured_profile.h"
#include "autosplit/util/cancel.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace autosplit::planner {

// Graph outputs that end on the other side of a cut from where results are consumed.
struct ResultTransfer {
    int64_t bits = 0;
    int messages = 0;  // one per tensor
    bool operator==(const ResultTransfer&) const = default;
};

struct LatencyBreakdown {
    // totalMs = edgeMs + transmitMs + cloudMs + resultsMs; resultsMs moves the graph outputs to
    // where results are consumed (downlink for outputs computed in the cloud when results are at
    // the edge, uplink for outputs computed on the edge when they are at the cloud).
    double edgeMs = 0, transmitMs = 0, cloudMs = 0, resultsMs = 0, totalMs = 0;
    std::string edgeOrigin = "simulated", cloudOrigin = "simulated";  // or "measured" / "mixed"
};

// One split position with every edge node at the same width (weights and outputs): what the
// uniform baselines pick from and what the window's latency-by-split view draws.
struct SplitCost {
    int position = -1;  // nodes [0, position] on the edge
    int bits = 8;
    LatencyBreakdown latency;
    int64_t transmitBits = 0;
    int messages = 0;  // tensors sent
    int64_t resultBits = 0;  // graph outputs moved to where results are consumed
    int resultMessages = 0;
    int64_t edgeWeightBits = 0, edgeActivationBits = 0;
    bool fitsMemory = true;
    int64_t edgeWeightBytes() const { return (edgeWeightBits + 7) / 8; }
    int64_t edgeActivationBytes() const { return (edgeActivationBits + 7) / 8; }
};

// What the consumer of the results receives for graph output 0 (the task's output): the
// tensor itself at its bits, its class indices (argmax over the last axis at ceil(log2 C) bits
// per row: a classifier's top-1, a CTC recognizer's per-step classes, decoded where the results
// are consumed), or one bit per element (a probability map binarized at its threshold). Other
// outputs always travel as tensors. The session chooses it from the task (planner/session.h).
enum class ResultEncoding { Tensor, ClassIndices, BinaryMap };
const char* resultEncodingName(ResultEncoding e);  // "tensor", "class-indices", "binary-map"

struct CostModelOptions {
    ResultEncoding results = ResultEncoding::Tensor;
    // Edge widths tabulated per split position for uniform plans (those the edge device runs).
    std::vector<int> tabulateBits{2, 4, 6, 8, 16};
    int inputBits = 8;   // the raw input (what Cloud-Only sends)
    int cloudBits = 16;  // the cloud runs float16
    CancelToken cancel;
};

class CostModel {
public:
    // `g` optimized with known shapes. Throws PlannerError when the model cannot be analysed or
    // the cloud device does not run cloudBits; Cancelled when o.cancel fires.
    static std::shared_ptr<const CostModel> build(Graph g, const sim::DeviceProfile& edge, const sim::DeviceProfile& cloud,
                                                  const CostModelOptions& o = {},
                                                  const sim::MeasuredProfile* edgeMeasured = nullptr);
    // With latency tables built elsewhere (the engine caches them per model and device).
    static std::shared_ptr<const CostModel> build(Graph g, const sim::DeviceProfile& edge, const sim::DeviceProfile& cloud,
                                                  std::shared_ptr<const sim::LatencyTable> edgeTable,
                                                  std::shared_ptr<const sim::LatencyTable> cloudTable,
                                                  const CostModelOptions& o = {});

    // The same devices, options and measured profile on another graph of the same structure
    // (an equalized copy: rescaled constants change the vector units' traffic).
    std::shared_ptr<const CostModel> rebuiltFor(Graph g) const;
    // The same model with output 0 consumed as `e` (latency tables shared, not re-simulated).
    std::shared_ptr<const CostModel> withResults(ResultEncoding e) const;
    ResultEncoding resultEncoding() const { return options_.results; }
    // Bits output `tensor` takes to where results are consumed at `elementBits` per element.
    int64_t resultBitsOf(int tensor, int elementBits) const;

    const Graph& graph() const { return graph_; }
    const ModelAnalysis& analysis() const { return analysis_; }
    const std::vector<SplitInfo>& splits() const { return splits_; }  // index = position + 1
    const sim::LatencyTable& edgeTable() const { return *edgeTable_; }
    const sim::LatencyTable& cloudTable() const { return *cloudTable_; }
    const sim::DeviceProfile& edgeDevice() const { return edge_; }
    const sim::DeviceProfile& cloudDevice() const { return cloud_; }
    int inputBits() const { return inputBits_; }
    int cloudBits() const { return cloudBits_; }
    int64_t rawInputBits() const { return rawInputBits_; }
    int nodeCount() const { return int(graph_.nodes.size()); }

    // Per split (index = position + 1) at uniform edge bits; null when `bits` is not tabulated.
    struct UniformSplit {
        double edgeUs = 0;
        int64_t transmitBits = 0;
        ResultTransfer toCloud;  // edge outputs not in the cut at this width (results at the cloud)
        int64_t edgeWeightBits = 0, edgeActivationBits = 0;
        int edgeMeasured = 0;  // edge latency entries of the prefix that are measured
    };
    const std::vector<UniformSplit>* uniform(int bits) const;
    const std::vector<double>& cloudSuffixUs() const { return cloudSuffixUs_; }  // index = position + 1
    const std::vector<double>& edgeFloatUs() const { return edgeFloatUs_; }      // per node at 16 bits, empty if unsupported
    const std::vector<double>& cloudNodeUs() const { return cloudNodeUs_; }      // per node at cloud bits

    // The transmit model: bits / uplink + messageOverheadMs per message (one per tensor).
    static double transmitMs(int64_t bits, int messages, const Constraints& c);

    // Results at the edge: the outputs computed by cloud nodes (after `position`) at the cloud
    // width. Results at the cloud: the outputs computed on the edge (nodes [0, position]) that
    // the cut does not already send, at (*abits)[producer] or `uniformBits` when abits is null.
    // Graph inputs that are also outputs count as edge tensors.
    ResultTransfer resultTransfer(int position, ResultsAt at, const std::vector<int>* abits, int uniformBits) const;
    // The same for any edge/cloud partition (onEdge per node; min-cut baselines): `sent` are the
    // tensors the cut transmits, abits[node] the edge nodes' output widths.
    ResultTransfer resultTransfer(const std::vector<bool>& onEdge, const std::vector<int>& sent, ResultsAt at,
                                  const std::vector<int>& abits) const;
    // bits / (downlink when results are at the edge, uplink when at the cloud) + the per-message
    // overhead per tensor.
    static double resultsMs(const ResultTransfer& r, const Constraints& c);
    // Bits crossing the cut after `position`: graph inputs at inputBits(), the outputs of node i
    // at (*abits)[i], or at `uniformBits` when abits is null.
    int64_t transmitBits(int position, const std::vector<int>* abits, int uniformBits) const;
    // "simulated", "measured" or "mixed" for `measured` of `total` latency entries.
    static std::string origin(int measured, int total);
    // Origin of the cloud suffix after `position`.
    std::string cloudOrigin(int position) const;

    // Throws PlannerError when `bits` is not tabulated (the edge device does not run it).
    SplitCost uniformCost(int position, int bits, const Constraints& c) const;
    // Every position -1 .. nodeCount() - 1 (index = position + 1).
    std::vector<SplitCost> uniformCosts(int bits, const Constraints& c) const;
    // The uniform width the window shows splits at: the highest of `allowed` <= 8 that is
    // tabulated, else the lowest tabulated above 8; -1 when none is.
    int uniformBitsFor(const std::vector<int>& allowed) const;

private:
    CostModel() = default;
    // The analysed graph and its tables into a model (the one place a CostModel is made).
    static std::shared_ptr<const CostModel> assemble(Graph g, ModelAnalysis analysis, const sim::DeviceProfile& edge,
                                                     const sim::DeviceProfile& cloud,
                                                     std::shared_ptr<const sim::LatencyTable> edgeTable,
                                                     std::shared_ptr<const sim::LatencyTable> cloudTable,
                                                     std::shared_ptr<const sim::MeasuredProfile> edgeMeasured,
                                                     const CostModelOptions& o);
    void tabulate(const CostModelOptions& o);
    Graph graph_;
    ModelAnalysis analysis_;
    std::vector<SplitInfo> splits_;
    sim::DeviceProfile edge_, cloud_;
    std::shared_ptr<const sim::LatencyTable> edgeTable_, cloudTable_;
    CostModelOptions options_;
    std::shared_ptr<const sim::MeasuredProfile> edgeMeasured_;
    int inputBits_ = 8, cloudBits_ = 16;
    int64_t rawInputBits_ = 0;
    std::map<int, std::vector<UniformSplit>> uniform_;
    std::vector<double> cloudSuffixUs_, edgeFloatUs_, cloudNodeUs_;
    std::vector<int> cloudMeasuredSuffix_;  // index = position + 1
    std::vector<ResultTransfer> cloudResults_;  // index = position + 1: outputs computed in the cloud
};

}  // namespace autosplit::planner
