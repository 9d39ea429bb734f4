#include "autosplit/quant/equalize.h"

#include "autosplit/exec/executor.h"
#include "autosplit/exec/parallel.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/file_io.h"
#include "autosplit/util/lane_sums.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <limits>
#include <unordered_map>

namespace autosplit {

namespace {

bool homogeneous(const Activation& a) {
    return a.isNone() || a.kind == Activation::Kind::Relu || a.kind == Activation::Kind::LeakyRelu;
}

// A float constant read by exactly one node.
bool ownConstant(const Graph& g, int t) {
    if (t < 0) return false;
    const Tensor& c = g.tensors[static_cast<size_t>(t)];
    return c.isWeight() && c.data->isFloat() && c.consumers.size() == 1;
}

// The constant `t` broadcasts per channel (axis 1 of a rank-`rank` tensor with C channels) or is
// a scalar.
bool channelConstant(const TensorData& d, int64_t rank, int64_t channels) {
    if (d.elementCount() == 1) return true;
    if (d.elementCount() != channels || static_cast<int64_t>(d.shape.size()) > rank) return false;
    const int64_t axis = static_cast<int64_t>(d.shape.size()) - (rank - 1);  // axis 1 of the tensor, right-aligned
    for (int64_t i = 0; i < static_cast<int64_t>(d.shape.size()); ++i)
        if (d.shape[static_cast<size_t>(i)] != (i == axis ? channels : 1)) return false;
    return axis >= 0;
}

// Collects the constants whose channel blocks, multiplied by s_c, scale tensor `t` (rank `rank`,
// `channels` channels) exactly, and the tensors of the producer chain that are scaled with it
// (an Add/Sub's other input); false when its producer cannot absorb a per-channel scale.
bool scalable(const Graph& g, int t, int64_t rank, int64_t channels, std::vector<int>& constants, std::vector<int>& chain) {
    const Tensor& x = g.tensors[static_cast<size_t>(t)];
    if (x.producer < 0 || x.isGraphOutput) return false;
    const Node& p = g.nodes[static_cast<size_t>(x.producer)];
    if (p.outputs.empty() || p.outputs[0] != t || !homogeneous(p.activation)) return false;
    if (p.op == "Conv") {  // weight rows and bias
        if (p.inputs.size() < 2 || !ownConstant(g, p.inputs[1])) return false;
        if (g.tensors[static_cast<size_t>(p.inputs[1])].data->shape.empty() ||
            g.tensors[static_cast<size_t>(p.inputs[1])].data->shape[0] != channels)
            return false;
        constants.push_back(p.inputs[1]);
        if (p.inputs.size() > 2 && p.inputs[2] >= 0) {
            if (!ownConstant(g, p.inputs[2]) || g.tensors[static_cast<size_t>(p.inputs[2])].data->elementCount() != channels)
                return false;
            constants.push_back(p.inputs[2]);
        }
        return true;
    }
    if (!p.activation.isNone() || p.inputs.size() != 2 || (p.op != "Mul" && p.op != "Add" && p.op != "Sub")) return false;
    const int ci = ownConstant(g, p.inputs[1]) ? 1 : ownConstant(g, p.inputs[0]) ? 0 : -1;
    if (ci < 0) return false;
    const int c = p.inputs[static_cast<size_t>(ci)], other = p.inputs[static_cast<size_t>(1 - ci)];
    if (other < 0 || g.tensors[static_cast<size_t>(other)].isWeight()) return false;
    if (!channelConstant(*g.tensors[static_cast<size_t>(c)].data, rank, channels)) return false;
    constants.push_back(c);
    if (p.op == "Mul") return true;
    // Add/Sub: y s = (x s) +- (c s): the other input must scale too and be read only here.
    if (g.tensors[static_cast<size_t>(other)].consumers.size() != 1) return false;
    chain.push_back(other);
    return scalable(g, other, rank, channels, constants, chain);
}

// Multiplies channel block c of constant `t` by s[c] (a scalar becomes per channel, shaped to
// broadcast on axis 1 of a rank-`rank` tensor).
void scaleChannels(Graph& g, int t, const std::vector<float>& s, int64_t rank) {
    Tensor& w = g.tensors[static_cast<size_t>(t)];
    TensorData d = *w.data;
    const int64_t channels = static_cast<int64_t>(s.size());
    if (d.elementCount() == 1) {
        const float v = d.floats[0];
        d.shape.assign(static_cast<size_t>(rank - 1), 1);
        d.shape[0] = channels;
        d.floats.assign(static_cast<size_t>(channels), v);
        w.shape = d.shape;
        w.shapeKnown = true;
    }
    const int64_t per = d.elementCount() / channels;
    for (int64_t c = 0; c < channels; ++c)
        for (int64_t k = 0; k < per; ++k) d.floats[static_cast<size_t>(c * per + k)] *= s[static_cast<size_t>(c)];
    w.data = std::make_shared<const TensorData>(std::move(d));
}

struct ChannelRanges {
    std::vector<float> lo, hi;  // per channel, measured; empty until a value was seen
};

struct Candidate {
    int tensor;
    std::vector<int> constants;  // scaled per channel at the producer side
    bool depthwise = true;
    // The tensors scaled by s: tensor first, then the producer chain's (the input of the affine
    // block's Add); each one's per-channel ranges bound s, so no scaled tensor outgrows its own grid.
    std::vector<int> scaled;
    std::vector<ChannelRanges> ranges;  // per entry of `scaled`
};

constexpr const char* kRangesFormat = "autosplit-equalize-ranges v2";

std::string rangesCacheFile(const EqualizeOptions& o, const Graph& g, const Dataset& data, int measured) {
    const std::string dataHash = data.hash.empty() ? hashSamples(data.samples) : data.hash;
    return o.cacheDir + "/equalize-" + graphHash(g) + "-" + dataHash + "-n" + std::to_string(measured) + ".json";
}

// The candidates' ranges from a cache file written for the same candidates; false (and the
// candidates untouched) when the file is absent, damaged or written for other tensors.
bool readRanges(const std::string& path, const Graph& g, std::vector<Candidate>& cands) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return false;
    try {
        const auto j = nlohmann::json::parse(readWholeFile(path));
        if (j.at("format").get<std::string>() != kRangesFormat) return false;
        const auto& ranges = j.at("ranges");
        std::vector<std::vector<ChannelRanges>> got(cands.size());
        for (size_t k = 0; k < cands.size(); ++k)
            for (int id : cands[k].scaled) {
                const Tensor& t = g.tensors[static_cast<size_t>(id)];
                if (!ranges.contains(t.name)) return false;
                const auto& r = ranges.at(t.name);
                ChannelRanges c{r.at("lo").get<std::vector<float>>(), r.at("hi").get<std::vector<float>>()};
                if (c.lo.size() != c.hi.size()) return false;
                if (!c.lo.empty() && static_cast<int64_t>(c.lo.size()) != t.shape[1]) return false;
                got[k].push_back(std::move(c));
            }
        for (size_t k = 0; k < cands.size(); ++k) cands[k].ranges = std::move(got[k]);
        return true;
    } catch (const std::exception&) {
        return false;  // damaged: measured again and rewritten
    }
}

// Best effort: a cache that cannot be written costs the next open a float pass, nothing else.
void writeRanges(const std::string& path, const Graph& g, const std::vector<Candidate>& cands) {
    nlohmann::json ranges = nlohmann::json::object();
    for (const Candidate& c : cands)
        for (size_t k = 0; k < c.scaled.size(); ++k) {
            const ChannelRanges& r = c.ranges[k];
            // Infinite ranges (a channel that never saw a finite value) do not survive JSON: not cached.
            for (size_t i = 0; i < r.lo.size(); ++i)
                if (!std::isfinite(r.lo[i]) || !std::isfinite(r.hi[i])) return;
            ranges[g.tensors[static_cast<size_t>(c.scaled[k])].name] = {{"lo", r.lo}, {"hi", r.hi}};
        }
    try {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
        writeFileAtomically(path, nlohmann::json{{"format", kRangesFormat}, {"ranges", ranges}}.dump());
    } catch (const std::exception&) {
    }
}

void measureRanges(const Graph& g, const Dataset& data, const EqualizeOptions& o, int measured, std::vector<Candidate>& cands);
void rescale(Graph& g, std::vector<Candidate>& cands, const EqualizeOptions& o, EqualizeReport& report);

}  // namespace

EqualizeReport equalizeActivations(Graph& g, const Dataset& data, const EqualizeOptions& o) {
    EqualizeReport report;
    // Candidates: tensors with a known rank >= 3 and channel count whose readers are all Convs
    // (input 0, own constant weight) and whose producer chain scales exactly.
    std::vector<Candidate> cands;
    for (size_t ti = 0; ti < g.tensors.size(); ++ti) {
        const Tensor& t = g.tensors[ti];
        if (t.isWeight() || t.isGraphInput || t.isGraphOutput || t.consumers.empty() || !isFloating(t.dtype)) continue;
        if (t.shape.size() < 3 || t.shape[1] <= 1) continue;
        const int64_t rank = static_cast<int64_t>(t.shape.size()), channels = t.shape[1];
        Candidate c;
        c.tensor = static_cast<int>(ti);
        bool ok = true;
        for (int k : t.consumers) {
            const Node& n = g.nodes[static_cast<size_t>(k)];
            if (n.op != "Conv" || n.inputs.size() < 2 || n.inputs[0] != c.tensor || n.inputs[1] == c.tensor ||
                !ownConstant(g, n.inputs[1])) {
                ok = false;
                break;
            }
            const TensorData& w = *g.tensors[static_cast<size_t>(n.inputs[1])].data;
            const int64_t groups = std::max<int64_t>(1, n.attrInt("group", 1));
            if (w.shape.size() < 3 || w.shape[1] * groups != channels || w.shape[0] % groups != 0) {
                ok = false;
                break;
            }
            if (w.shape[1] != 1) c.depthwise = false;
        }
        c.scaled = {c.tensor};
        if (!ok || !scalable(g, c.tensor, rank, channels, c.constants, c.scaled)) continue;
        c.ranges.resize(c.scaled.size());
        cands.push_back(std::move(c));
    }
    if (cands.empty() || data.samples.empty()) return report;

    const int measured = std::min<int>(static_cast<int>(data.samples.size()), std::max(1, o.maxSamples));
    const std::string cachePath = o.cacheDir.empty() ? std::string() : rangesCacheFile(o, g, data, measured);
    if (!cachePath.empty() && readRanges(cachePath, g, cands)) {
        report.rangesFromCache = true;
    } else {
        measureRanges(g, data, o, measured, cands);
        if (!cachePath.empty()) writeRanges(cachePath, g, cands);
    }
    report.samples = measured;
    rescale(g, cands, o, report);
    return report;
}

namespace {


void measureRanges(const Graph& g, const Dataset& data, const EqualizeOptions& o, int measured, std::vector<Candidate>& cands) {
    std::unordered_map<int, size_t> slotOf;  // scaled tensor -> slot
    std::vector<ChannelRanges*> slots;
    int lastNode = 0;  // the run stops at the last producer of a scaled tensor: nothing after it is read
    for (Candidate& c : cands)
        for (size_t k = 0; k < c.scaled.size(); ++k)
            if (slotOf.emplace(c.scaled[k], slots.size()).second) {
                slots.push_back(&c.ranges[k]);
                lastNode = std::max(lastNode, g.tensors[static_cast<size_t>(c.scaled[k])].producer);
            }
    for (int i = 0; i < measured; ++i)
        validateSample(g, data.samples[static_cast<size_t>(i)], "calibration sample " + std::to_string(i));
    // Per-channel ranges on the float model, each sample's apart (whole samples in parallel on
    // single-threaded executors), then merged in sample order: min and max give the same ranges
    // for any thread count.
    std::vector<std::vector<ChannelRanges>> perSample(static_cast<size_t>(measured), std::vector<ChannelRanges>(slots.size()));
    auto measure = [&](int i, const Executor& ex) {
        std::vector<ChannelRanges>& mine = perSample[static_cast<size_t>(i)];
        RunHooks hooks;
        hooks.cancel = o.cancel;
        hooks.lastNode = lastNode;
        hooks.onValue = [&](int, int tensor, TensorData& v) {
            auto it = slotOf.find(tensor);
            if (it == slotOf.end() || !v.isFloat() || v.shape.size() < 2) return;
            ChannelRanges& r = mine[it->second];
            const int64_t C = v.shape[1], outer = v.shape[0], inner = v.elementCount() / std::max<int64_t>(1, C * outer);
            if (inner == 0) return;
            r.lo.assign(static_cast<size_t>(C), std::numeric_limits<float>::infinity());
            r.hi.assign(static_cast<size_t>(C), -std::numeric_limits<float>::infinity());
            for (int64_t b = 0; b < outer; ++b)
                for (int64_t ch = 0; ch < C; ++ch) {
                    const auto [mn, mx] = laneMinMax(v.floats.data() + (b * C + ch) * inner, inner);
                    r.lo[static_cast<size_t>(ch)] = std::min(r.lo[static_cast<size_t>(ch)], mn);
                    r.hi[static_cast<size_t>(ch)] = std::max(r.hi[static_cast<size_t>(ch)], mx);
                }
        };
        ex.run(data.samples[static_cast<size_t>(i)], hooks);
    };
    ExecutorOptions eo;
    eo.threads = o.threads;
    const Executor ex(g, eo);
    ExecutorOptions one;
    one.threads = 1;
    const Executor serial(g, one);
    forEachSample(ex, serial, measured, measure, o.cancel);
    // The channel count is the first sample's that showed the tensor; a sample with another
    // count is ignored for that tensor.
    for (const auto& sample : perSample)
        for (size_t k = 0; k < slots.size(); ++k) {
            const ChannelRanges& s = sample[k];
            ChannelRanges& r = *slots[k];
            if (s.lo.empty()) continue;
            if (r.lo.empty()) {
                r = s;
                continue;
            }
            if (r.lo.size() != s.lo.size()) continue;
            for (size_t ch = 0; ch < r.lo.size(); ++ch) {
                r.lo[ch] = std::min(r.lo[ch], s.lo[ch]);
                r.hi[ch] = std::max(r.hi[ch], s.hi[ch]);
            }
        }
}

// The largest s for channel `ch` that keeps it inside the tensor's range [lg, hg] (its own sign
// side); infinity when nothing bounds it (a channel that is zero throughout).
double headroom(const ChannelRanges& r, size_t ch, float lg, float hg) {
    const float h = r.hi[ch], l = r.lo[ch];
    double f = std::numeric_limits<double>::infinity();
    if (h > 0) f = std::min(f, static_cast<double>(hg) / h);
    if (l < 0) f = std::min(f, static_cast<double>(lg) / l);
    return f;
}

void rescale(Graph& g, std::vector<Candidate>& cands, const EqualizeOptions& o, EqualizeReport& report) {
    // s_c moves channel c as far out as the tensor's range allows (its own sign side).
    for (Candidate& c : cands) {
        if (c.ranges.empty() || c.ranges[0].lo.empty()) continue;
        const int64_t C = static_cast<int64_t>(c.ranges[0].lo.size()), rank = static_cast<int64_t>(g.tensors[static_cast<size_t>(c.tensor)].shape.size());
        // Each scaled tensor's range over all channels.
        std::vector<float> hg(c.ranges.size(), 0.f), lg(c.ranges.size(), 0.f);
        bool finite = true;
        for (size_t k = 0; k < c.ranges.size(); ++k) {
            const ChannelRanges& r = c.ranges[k];
            finite = finite && static_cast<int64_t>(r.lo.size()) == C;
            for (size_t ch = 0; finite && ch < r.lo.size(); ++ch) {
                finite = std::isfinite(r.lo[ch]) && std::isfinite(r.hi[ch]);
                hg[k] = std::max(hg[k], r.hi[ch]);
                lg[k] = std::min(lg[k], r.lo[ch]);
            }
        }
        if (!finite) continue;
        std::vector<float> s(static_cast<size_t>(C), 1.f);
        double maxS = 1;
        for (size_t ch = 0; ch < static_cast<size_t>(C); ++ch) {
            // A channel that holds one value on every sample carries no signal to spread over
            // the grid; scaled, its constant would only widen the grid of the tensors it is in.
            const ChannelRanges& own = c.ranges[0];
            if (own.hi[ch] - own.lo[ch] <= 1e-5f * std::max(std::fabs(own.hi[ch]), std::fabs(own.lo[ch]))) continue;
            double f = std::numeric_limits<double>::infinity();
            for (size_t k = 0; k < c.ranges.size(); ++k) f = std::min(f, headroom(c.ranges[k], ch, lg[k], hg[k]));
            if (!std::isfinite(f) || f <= 1) continue;  // dead channel, or already at the edge
            const double v = std::min(o.maxScale, c.depthwise ? f : std::sqrt(f));
            s[ch] = static_cast<float>(v);
            maxS = std::max(maxS, v);
        }
        if (maxS <= 1.0001) continue;
        // Producer side: multiply by s.
        for (int t : c.constants) scaleChannels(g, t, s, rank);
        // Consumer side: divide the weights reading channel c by s_c.
        for (int k : g.tensors[static_cast<size_t>(c.tensor)].consumers) {
            const Node& n = g.nodes[static_cast<size_t>(k)];
            Tensor& w = g.tensors[static_cast<size_t>(n.inputs[1])];
            TensorData d = *w.data;
            const int64_t O = d.shape[0], cg = d.shape[1], groups = C / cg, og = O / groups, ks = d.elementCount() / (O * cg);
            for (int64_t oc = 0; oc < O; ++oc)
                for (int64_t ci = 0; ci < cg; ++ci) {
                    const float inv = 1.f / s[static_cast<size_t>((oc / og) * cg + ci)];
                    float* p = d.floats.data() + (oc * cg + ci) * ks;
                    for (int64_t t = 0; t < ks; ++t) p[t] *= inv;
                }
            w.data = std::make_shared<const TensorData>(std::move(d));
        }
        const Tensor& t = g.tensors[static_cast<size_t>(c.tensor)];
        report.tensors.push_back({t.name, g.nodes[static_cast<size_t>(t.producer)].name, C, maxS, c.depthwise});
    }
}

}  // namespace

std::string equalizationSummary(const EqualizeReport& r, double ms) {
    double largest = 1;
    int depthwise = 0;
    for (const auto& t : r.tensors) {
        largest = std::max(largest, t.maxScale);
        depthwise += t.depthwise;
    }
    char line[200];
    std::snprintf(line, sizeof line,
                  "equalization: %zu tensor%s rescaled per channel (%d read by depthwise convs, largest factor %.1f) "
                  "on %d samples (%d ms%s)",
                  r.tensors.size(), r.tensors.size() == 1 ? "" : "s", depthwise, largest, r.samples, int(ms),
                  r.rangesFromCache ? ", ranges from the cache" : "");
    return line;
}

}  // namespace autosplit
