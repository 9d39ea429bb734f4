// Accelerator device profiles: a systolic MAC array, on-chip buffers, off-chip memory and a
// vector unit, read from versioned JSON files (schema in resources/devices/README.md).
#pragma once

#include "autosplit/util/errors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace autosplit::sim {

// A device file that cannot be used; the message names the file and the field at fault.
class DeviceError : public Error {
public:
    using Error::Error;
};

// SCALE-Sim's three dataflows: which GEMM operand stays in the processing elements.
enum class Dataflow { OutputStationary, WeightStationary, InputStationary };

const char* dataflowName(Dataflow d);  // "os", "ws", "is"

struct DeviceProfile {
    static constexpr int kSchemaVersion = 1;

    std::string name;
    std::string description;
    std::string source;  // file path, or "built-in" for the profiles shipped in resources/devices

    // MAC array.
    int64_t rows = 0;
    int64_t cols = 0;
    Dataflow dataflow = Dataflow::OutputStationary;
    double clockMHz = 0;
    int macBits = 8;    // operand width of one MAC; wider operands take ceil(bits/macBits) passes each
    int opsPerMac = 1;  // how the vendor counts peak OPs (TPU: multiply + add = 2)

    // On-chip buffers between off-chip memory and the array.
    int64_t ifmapBufferBytes = 0;
    int64_t filterBufferBytes = 0;
    int64_t ofmapBufferBytes = 0;
    bool doubleBuffered = true;  // half of each buffer fills while the other half computes

    // Off-chip memory.
    int64_t offchipBytes = 0;
    double bandwidthGBps = 0;  // decimal GB/s (1e9 bytes per second)

    // Element-wise / pooling / resize work.
    double vectorOpsPerCycle = 0;

    // Bit-widths the device runs (weights and activations), ascending, unique.
    std::vector<int> bits;

    int64_t macs() const { return rows * cols; }
    int64_t onchipBytes() const { return ifmapBufferBytes + filterBufferBytes + ofmapBufferBytes; }
    double peakOpsPerSecond() const { return double(macs()) * opsPerMac * clockMHz * 1e6; }
    // Bytes of a buffer an operand may occupy while the next tile is prefetched.
    int64_t usableBytes(int64_t bufferBytes) const { return doubleBuffered ? bufferBytes / 2 : bufferBytes; }
    bool supportsBits(int b) const;
    // Canonical text of every field that affects latency: part of latency-table cache keys.
    std::string fingerprint() const;
};

// Parse and validate a device document. `displayName` prefixes every error message.
// Throws DeviceError naming the field (e.g. "array.rows") on a missing, negative, zero,
// mistyped or unknown field, an unknown dataflow or an unsupported schema version.
DeviceProfile parseDevice(const std::string& jsonText, const std::string& displayName);
DeviceProfile loadDevice(const std::string& path);

// Profiles shipped in resources/devices/*.json, embedded at build time.
std::vector<std::string> builtinDeviceNames();
DeviceProfile builtinDevice(const std::string& name);

// "eyeriss" / "tpu" -> built-in profile; anything with a '/' or ending in ".json" -> file.
DeviceProfile resolveDevice(const std::string& nameOrPath);

}  // namespace autosplit::sim
