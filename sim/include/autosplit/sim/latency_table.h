// Per-layer latency for every (weight bits, activation bits) pair a device supports, built
// once per (model, device, measured profile) and then only read: the planner sums entries on
// every slider move, from several threads at once.
#pragma once

#include "autosplit/ir/analysis.h"
#include "autosplit/sim/device.h"
#include "autosplit/sim/layer_cost.h"
#include "autosplit/sim/measured_profile.h"
#include "autosplit/util/cancel.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace autosplit::sim {

// Where a latency number comes from; shown next to it by the planner and the UI.
enum class LatencyOrigin : uint8_t { Simulated, Measured };
const char* originName(LatencyOrigin o);  // "simulated", "measured"

struct LatencyEntry {
    double us = 0;
    LatencyOrigin origin = LatencyOrigin::Simulated;
    Bound bound = Bound::Free;  // of the simulation; kept for measured entries as a hint
};

class LatencyTable {
public:
    LatencyTable() = default;

    // Simulates every layer at every (w, a) in device.bits, then applies `measured` (if any).
    // Polls `cancel` between layers (throws Cancelled). Throws ProfileError naming the line of
    // a measured row whose layer is not in `layers` or whose bits the device does not run.
    static LatencyTable build(const std::vector<LayerInfo>& layers, const DeviceProfile& device,
                              const MeasuredProfile* measured = nullptr, const CancelToken& cancel = {});

    int layerCount() const { return int(names_.size()); }
    const std::vector<int>& bits() const { return bits_; }
    int bitsIndex(int bits) const;  // -1 when the device does not run that width
    const std::string& layerName(int layer) const { return names_[size_t(layer)]; }
    const std::string& deviceName() const { return deviceName_; }
    const std::string& deviceFingerprint() const { return deviceFingerprint_; }
    int measuredCount() const { return measuredCount_; }

    // Hot path for the planner: indices, not bit values; no range checks.
    double us(int layer, int wIdx, int aIdx) const { return us_[index(layer, wIdx, aIdx)]; }
    LatencyEntry entry(int layer, int wIdx, int aIdx) const {
        const size_t i = index(layer, wIdx, aIdx);
        return {us_[i], LatencyOrigin(meta_[i] >> 4), Bound(meta_[i] & 0xF)};
    }
    // Sum of layers [first, last] all at the same bits, O(1) from prefix sums; 0 if last < first.
    double rangeUs(int first, int last, int wIdx, int aIdx) const;

    // Checked lookup by bit values; throws Error naming an unknown layer or unsupported bits.
    LatencyEntry at(int layer, int wbits, int abits) const;

private:
    size_t index(int layer, int wIdx, int aIdx) const {
        return (size_t(layer) * nb_ + size_t(wIdx)) * nb_ + size_t(aIdx);
    }
    size_t nb_ = 0;
    std::vector<int> bits_;
    std::vector<std::string> names_;
    std::vector<double> us_;        // [layer][w][a]
    std::vector<uint8_t> meta_;     // origin << 4 | bound, same layout
    std::vector<double> prefix_;    // [w][a][layer + 1]: sum of us over layers [0, layer]
    std::string deviceName_;
    std::string deviceFingerprint_;
    int measuredCount_ = 0;
};

// Shares built tables between callers: the same (model key, device, profile) is simulated once.
// `modelKey` identifies the analysed graph (e.g. file path + content hash + input bindings).
// Thread-safe; a build that throws (Cancelled, ProfileError) caches nothing.
class LatencyTableCache {
public:
    std::shared_ptr<const LatencyTable> get(const std::string& modelKey, const std::vector<LayerInfo>& layers,
                                            const DeviceProfile& device, const MeasuredProfile* measured = nullptr,
                                            const CancelToken& cancel = {});
    size_t size() const;
    void clear();

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const LatencyTable>> tables_;
};

}  // namespace autosplit::sim
