#include "autosplit/planner/cost_model.h"

#include <algorithm>

namespace autosplit::planner {

namespace {

ModelAnalysis analyzed(const Graph& g) {
    try {
        return analyze(g);
    } catch (const Error& e) {
        throw PlannerError(std::string("cannot plan: ") + e.what());
    }
}

}  // namespace

std::shared_ptr<const CostModel> CostModel::build(Graph g, const sim::DeviceProfile& edge, const sim::DeviceProfile& cloud,
                                                  const CostModelOptions& o, const sim::MeasuredProfile* edgeMeasured) {
    ModelAnalysis analysis = analyzed(g);
    auto edgeTable = std::make_shared<const sim::LatencyTable>(sim::LatencyTable::build(analysis.layers, edge, edgeMeasured, o.cancel));
    auto cloudTable = std::make_shared<const sim::LatencyTable>(sim::LatencyTable::build(analysis.layers, cloud, nullptr, o.cancel));
    return assemble(std::move(g), std::move(analysis), edge, cloud, std::move(edgeTable), std::move(cloudTable),
                    edgeMeasured ? std::make_shared<const sim::MeasuredProfile>(*edgeMeasured) : nullptr, o);
}

std::shared_ptr<const CostModel> CostModel::rebuiltFor(Graph g) const {
    CostModelOptions o = options_;
    o.cancel = {};
    return build(std::move(g), edge_, cloud_, o, edgeMeasured_.get());
}

const char* resultEncodingName(ResultEncoding e) {
    switch (e) {
    case ResultEncoding::Tensor: return "tensor";
    case ResultEncoding::ClassIndices: return "class-indices";
    case ResultEncoding::BinaryMap: return "binary-map";
    }
    return "?";
}

std::shared_ptr<const CostModel> CostModel::withResults(ResultEncoding e) const {
    if (e == options_.results) return std::shared_ptr<const CostModel>(new CostModel(*this));
    CostModelOptions o = options_;
    o.cancel = {};
    o.results = e;
    return assemble(graph_, analysis_, edge_, cloud_, edgeTable_, cloudTable_, edgeMeasured_, o);
}

int64_t CostModel::resultBitsOf(int tensor, int elementBits) const {
    const Tensor& t = graph_.tensors[size_t(tensor)];
    const int64_t elements = std::max<int64_t>(0, t.elementCount());
    if (graph_.outputs.empty() || tensor != graph_.outputs.front() || options_.results == ResultEncoding::Tensor)
        return elements * elementBits;
    if (options_.results == ResultEncoding::BinaryMap) return elements;
    const int64_t classes = t.shape.empty() ? 1 : std::max<int64_t>(1, t.shape.back());
    int indexBits = 1;
    while ((int64_t(1) << indexBits) < classes) ++indexBits;
    return elements / classes * indexBits;
}

std::shared_ptr<const CostModel> CostModel::build(Graph g, const sim::DeviceProfile& edge, const sim::DeviceProfile& cloud,
                                                  std::shared_ptr<const sim::LatencyTable> edgeTable,
                                                  std::shared_ptr<const sim::LatencyTable> cloudTable,
                                                  const CostModelOptions& o) {
    ModelAnalysis analysis = analyzed(g);
    return assemble(std::move(g), std::move(analysis), edge, cloud, std::move(edgeTable), std::move(cloudTable), nullptr, o);
}

std::shared_ptr<const CostModel> CostModel::assemble(Graph g, ModelAnalysis analysis, const sim::DeviceProfile& edge,
                                                     const sim::DeviceProfile& cloud,
                                                     std::shared_ptr<const sim::LatencyTable> edgeTable,
                                                     std::shared_ptr<const sim::LatencyTable> cloudTable,
                                                     std::shared_ptr<const sim::MeasuredProfile> edgeMeasured,
                                                     const CostModelOptions& o) {
    if (g.nodes.empty()) throw PlannerError("the model has no nodes");
    if (!edgeTable || !cloudTable) throw PlannerError("no latency table for the edge or the cloud device");
    std::shared_ptr<CostModel> m(new CostModel());
    m->graph_ = std::move(g);
    m->analysis_ = std::move(analysis);
    m->edgeMeasured_ = std::move(edgeMeasured);
    if (edgeTable->layerCount() != m->nodeCount() || cloudTable->layerCount() != m->nodeCount())
        throw PlannerError("the latency tables were built for another model (" + std::to_string(edgeTable->layerCount()) +
                           " layers, the model has " + std::to_string(m->nodeCount()) + ")");
    m->splits_ = enumerateSplits(m->graph_);
    m->edge_ = edge;
    m->cloud_ = cloud;
    m->edgeTable_ = std::move(edgeTable);
    m->cloudTable_ = std::move(cloudTable);
    m->options_ = o;
    m->inputBits_ = o.inputBits;
    m->cloudBits_ = o.cloudBits;
    m->rawInputBits_ = rawInputElements(m->graph_) * o.inputBits;
    if (m->cloudTable_->bitsIndex(o.cloudBits) < 0)
        throw PlannerError("cloud device '" + cloud.name + "' does not run " + std::to_string(o.cloudBits) + "-bit layers");
    m->tabulate(o);
    return m;
}

void CostModel::tabulate(const CostModelOptions& o) {
    const int N = nodeCount();
    const auto& E = *edgeTable_;
    const auto& C = *cloudTable_;
    const int ci = C.bitsIndex(cloudBits_);
    cloudSuffixUs_.assign(size_t(N) + 1, 0);
    cloudMeasuredSuffix_.assign(size_t(N) + 1, 0);
    cloudNodeUs_.assign(size_t(N), 0);
    for (int i = 0; i < N; ++i) cloudNodeUs_[size_t(i)] = C.us(i, ci, ci);
    for (int p = -1; p < N; ++p) cloudSuffixUs_[size_t(p + 1)] = C.rangeUs(p + 1, N - 1, ci, ci);
    for (int i = N - 1; i >= 0; --i)
        cloudMeasuredSuffix_[size_t(i)] =
            cloudMeasuredSuffix_[size_t(i) + 1] + (C.entry(i, ci, ci).origin == sim::LatencyOrigin::Measured);
    {
        std::vector<ResultTransfer> back(size_t(N) + 1);  // filled before cloudResults_ answers the queries
        for (int p = -1; p < N; ++p) back[size_t(p + 1)] = resultTransfer(p, ResultsAt::Edge, nullptr, cloudBits_);
        cloudResults_ = std::move(back);
    }
    const int e16 = E.bitsIndex(16);
    if (e16 >= 0) {
        edgeFloatUs_.assign(size_t(N), 0);
        for (int i = 0; i < N; ++i) edgeFloatUs_[size_t(i)] = E.us(i, e16, e16);
    }
    for (int b : o.tabulateBits) {
        const int bi = E.bitsIndex(b);
        if (bi < 0 || uniform_.count(b)) continue;
        o.cancel.throwIfCancelled();
        std::vector<UniformSplit> u(size_t(N) + 1);
        PlanBits assign = PlanBits::uniform(graph_, -1, b, b, inputBits_);
        int measured = 0;
        for (int p = -1; p < N; ++p) {
            auto& x = u[size_t(p + 1)];
            x.edgeUs = p >= 0 ? E.rangeUs(0, p, bi, bi) : 0.0;
            if (p >= 0) measured += E.entry(p, bi, bi).origin == sim::LatencyOrigin::Measured;
            x.edgeMeasured = measured;
            x.transmitBits = transmitBits(p, nullptr, b);
            x.toCloud = resultTransfer(p, ResultsAt::Cloud, nullptr, b);
            assign.splitPosition = p;
            const EdgeMemory mem = edgeMemory(graph_, assign);
            x.edgeWeightBits = mem.weightBits;
            x.edgeActivationBits = mem.peakActivationBits;
        }
        uniform_[b] = std::move(u);
    }
}

const std::vector<CostModel::UniformSplit>* CostModel::uniform(int bits) const {
    const auto it = uniform_.find(bits);
    return it == uniform_.end() ? nullptr : &it->second;
}

double CostModel::transmitMs(int64_t bits, int messages, const Constraints& c) {
    return double(bits) * (1 + c.linkOverhead) / c.uplinkBps * 1e3 + messages * c.messageOverheadMs;
}

int64_t CostModel::transmitBits(int position, const std::vector<int>* abits, int uniformBits) const {
    int64_t bits = 0;
    for (int t : splits_[size_t(position + 1)].transmitted) {
        const Tensor& tt = graph_.tensors[size_t(t)];
        const int b = tt.producer < 0 ? inputBits_ : (abits ? (*abits)[size_t(tt.producer)] : uniformBits);
        bits += std::max<int64_t>(0, tt.elementCount()) * b;
    }
    return bits;
}

namespace {

// The one rule for a cut of either shape: `onEdge(t)` says whether output t is computed on the
// edge, `edgeBits(t)` the bits it has there.
template <class OnEdge, class EdgeBits>
ResultTransfer collectResults(const CostModel& m, ResultsAt at, const std::vector<int>& sent, OnEdge onEdge, EdgeBits edgeBits) {
    ResultTransfer r;
    for (int t : m.graph().outputs) {
        if (t < 0) continue;
        const bool edge = onEdge(t);
        if (at == ResultsAt::Edge) {
            if (edge) continue;
            r.bits += m.resultBitsOf(t, m.cloudBits());
        } else {
            if (!edge || std::find(sent.begin(), sent.end(), t) != sent.end()) continue;
            r.bits += m.resultBitsOf(t, edgeBits(t));
        }
        ++r.messages;
    }
    return r;
}

}  // namespace

ResultTransfer CostModel::resultTransfer(int position, ResultsAt at, const std::vector<int>* abits, int uniformBits) const {
    if (at == ResultsAt::Edge && !cloudResults_.empty() && position >= -1 && position < nodeCount())
        return cloudResults_[size_t(position + 1)];
    // Graph inputs (producer -1) are on the edge.
    return collectResults(
        *this, at, splits_[size_t(position + 1)].transmitted, [&](int t) { return graph_.tensors[size_t(t)].producer <= position; },
        [&](int t) {
            const int p = graph_.tensors[size_t(t)].producer;
            return p < 0 ? inputBits_ : (abits ? (*abits)[size_t(p)] : uniformBits);
        });
}

ResultTransfer CostModel::resultTransfer(const std::vector<bool>& onEdge, const std::vector<int>& sent, ResultsAt at,
                                         const std::vector<int>& abits) const {
    return collectResults(
        *this, at, sent,
        [&](int t) {
            const int p = graph_.tensors[size_t(t)].producer;
            return p < 0 || onEdge[size_t(p)];
        },
        [&](int t) {
            const int p = graph_.tensors[size_t(t)].producer;
            return p < 0 ? inputBits_ : abits[size_t(p)];
        });
}

double CostModel::resultsMs(const ResultTransfer& r, const Constraints& c) {
    const double rate = c.resultsAt == ResultsAt::Edge ? c.downlinkBps : c.uplinkBps;
    return double(r.bits) * (1 + c.linkOverhead) / rate * 1e3 + r.messages * c.messageOverheadMs;
}

std::string CostModel::origin(int measured, int total) {
    if (measured == 0 || total == 0) return "simulated";
    return measured == total ? "measured" : "mixed";
}

std::string CostModel::cloudOrigin(int position) const {
    return origin(cloudMeasuredSuffix_[size_t(position + 1)], nodeCount() - position - 1);
}

SplitCost CostModel::uniformCost(int position, int bits, const Constraints& c) const {
    const auto* u = uniform(bits);
    if (!u) throw PlannerError("edge device '" + edge_.name + "' does not run " + std::to_string(bits) + "-bit layers");
    if (position < -1 || position >= nodeCount()) throw PlannerError("no split position " + std::to_string(position));
    const auto& x = (*u)[size_t(position + 1)];
    SplitCost s;
    s.position = position;
    s.bits = bits;
    s.transmitBits = x.transmitBits;
    s.messages = int(splits_[size_t(position + 1)].transmitted.size());
    s.latency.edgeMs = x.edgeUs / 1e3;
    s.latency.cloudMs = cloudSuffixUs_[size_t(position + 1)] / 1e3;
    s.latency.transmitMs = transmitMs(x.transmitBits, s.messages, c);
    const ResultTransfer results = c.resultsAt == ResultsAt::Edge ? cloudResults_[size_t(position + 1)] : x.toCloud;
    s.resultBits = results.bits;
    s.resultMessages = results.messages;
    s.latency.resultsMs = resultsMs(results, c);
    s.latency.totalMs = s.latency.edgeMs + s.latency.transmitMs + s.latency.cloudMs + s.latency.resultsMs;
    s.latency.edgeOrigin = origin(x.edgeMeasured, position + 1);
    s.latency.cloudOrigin = cloudOrigin(position);
    s.edgeWeightBits = x.edgeWeightBits;
    s.edgeActivationBits = x.edgeActivationBits;
    s.fitsMemory = s.edgeWeightBytes() + s.edgeActivationBytes() <= c.edgeMemoryBytes;
    return s;
}

std::vector<SplitCost> CostModel::uniformCosts(int bits, const Constraints& c) const {
    std::vector<SplitCost> out;
    out.reserve(size_t(nodeCount()) + 1);
    for (int p = -1; p < nodeCount(); ++p) out.push_back(uniformCost(p, bits, c));
    return out;
}

int CostModel::uniformBitsFor(const std::vector<int>& allowed) const {
    int best = -1, above = -1;
    for (int b : allowed) {
        if (!uniform(b)) continue;
        if (b <= 8) best = std::max(best, b);
        else if (above < 0 || b < above) above = b;
    }
    return best >= 0 ? best : above;
}

}  // namespace autosplit::planner
