#include "autosplit/sim/latency_table.h"

#include <algorithm>
#include <unordered_map>

namespace autosplit::sim {

const char* originName(LatencyOrigin o) { return o == LatencyOrigin::Measured ? "measured" : "simulated"; }

namespace {
std::string bitsText(int w, int a) { return "w" + std::to_string(w) + "a" + std::to_string(a); }

std::string bitsList(const std::vector<int>& bits) {
    std::string s;
    for (int b : bits) s += (s.empty() ? "" : ",") + std::to_string(b);
    return s;
}
}  // namespace

LatencyTable LatencyTable::build(const std::vector<LayerInfo>& layers, const DeviceProfile& device,
                                 const MeasuredProfile* measured, const CancelToken& cancel) {
    if (device.bits.empty()) throw DeviceError(device.source + ": device '" + device.name + "' lists no bit-widths");
    LatencyTable t;
    t.bits_ = device.bits;
    t.nb_ = device.bits.size();
    t.deviceName_ = device.name;
    t.deviceFingerprint_ = device.fingerprint();
    const size_t nb = t.nb_, nl = layers.size();
    t.names_.reserve(nl);
    t.us_.resize(nl * nb * nb);
    t.meta_.resize(nl * nb * nb);
    for (size_t l = 0; l < nl; ++l) {
        cancel.throwIfCancelled();
        t.names_.push_back(layers[l].name);
        for (size_t wi = 0; wi < nb; ++wi) {
            for (size_t ai = 0; ai < nb; ++ai) {
                const LayerCost c = simulateLayer(layers[l], device, device.bits[wi], device.bits[ai]);
                const size_t i = t.index(int(l), int(wi), int(ai));
                t.us_[i] = c.latencyUs;
                t.meta_[i] = uint8_t(uint8_t(LatencyOrigin::Simulated) << 4 | uint8_t(c.bound));
            }
        }
    }

    if (measured) {
        std::unordered_map<std::string, int> byName;
        for (size_t l = 0; l < nl; ++l) byName.emplace(layers[l].name, int(l));
        for (const MeasuredLatency& m : measured->entries) {
            const std::string where = measured->source + ":" + std::to_string(m.line);
            auto it = byName.find(m.layer);
            if (it == byName.end()) throw ProfileError(where + ": layer '" + m.layer + "' is not in the model");
            const int wi = t.bitsIndex(m.weightBits), ai = t.bitsIndex(m.activationBits);
            if (wi < 0 || ai < 0)
                throw ProfileError(where + ": bits " + bitsText(m.weightBits, m.activationBits) +
                                   " are not among device '" + device.name + "' bit-widths (" +
                                   bitsList(device.bits) + ")");
            const size_t i = t.index(it->second, wi, ai);
            t.us_[i] = m.ms * 1000.0;
            t.meta_[i] = uint8_t(uint8_t(LatencyOrigin::Measured) << 4 | (t.meta_[i] & 0xF));
            ++t.measuredCount_;
        }
    }

    // Prefix sums per (w, a) so a uniform-bits range costs two reads.
    t.prefix_.assign(nb * nb * (nl + 1), 0.0);
    for (size_t wi = 0; wi < nb; ++wi)
        for (size_t ai = 0; ai < nb; ++ai) {
            double* p = &t.prefix_[(wi * nb + ai) * (nl + 1)];
            for (size_t l = 0; l < nl; ++l) p[l + 1] = p[l] + t.us_[t.index(int(l), int(wi), int(ai))];
        }
    return t;
}

int LatencyTable::bitsIndex(int bits) const {
    auto it = std::find(bits_.begin(), bits_.end(), bits);
    return it == bits_.end() ? -1 : int(it - bits_.begin());
}

double LatencyTable::rangeUs(int first, int last, int wIdx, int aIdx) const {
    if (last < first) return 0.0;
    const size_t nl = names_.size();
    const double* p = &prefix_[(size_t(wIdx) * nb_ + size_t(aIdx)) * (nl + 1)];
    return p[size_t(last) + 1] - p[size_t(first)];
}

LatencyEntry LatencyTable::at(int layer, int wbits, int abits) const {
    if (layer < 0 || layer >= layerCount())
        throw Error("latency table: layer index " + std::to_string(layer) + " out of range (" +
                    std::to_string(layerCount()) + " layers)");
    const int wi = bitsIndex(wbits), ai = bitsIndex(abits);
    if (wi < 0 || ai < 0)
        throw Error("latency table: device '" + deviceName_ + "' does not run " + bitsText(wbits, abits) +
                    " (bit-widths " + bitsList(bits_) + ")");
    return entry(layer, wi, ai);
}

std::shared_ptr<const LatencyTable> LatencyTableCache::get(const std::string& modelKey,
                                                           const std::vector<LayerInfo>& layers,
                                                           const DeviceProfile& device,
                                                           const MeasuredProfile* measured,
                                                           const CancelToken& cancel) {
    std::string key = modelKey;
    key += '\x1e';
    key += device.fingerprint();
    key += '\x1e';
    if (measured) key += measured->fingerprint();
    {
        std::lock_guard lock(mutex_);
        auto it = tables_.find(key);
        if (it != tables_.end()) return it->second;
    }
    // Built outside the lock so readers of other tables are not held up; if two threads race
    // on the same key the first insert wins and both return the same table.
    auto table = std::make_shared<const LatencyTable>(LatencyTable::build(layers, device, measured, cancel));
    std::lock_guard lock(mutex_);
    return tables_.emplace(std::move(key), std::move(table)).first->second;
}

size_t LatencyTableCache::size() const {
    std::lock_guard lock(mutex_);
    return tables_.size();
}

void LatencyTableCache::clear() {
    std::lock_guard lock(mutex_);
    tables_.clear();
}

}  // namespace autosplit::sim
