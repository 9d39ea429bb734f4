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
    // Version 2: `array.native_mac_bits` and no per-device `ops_per_mac`. Version 1 files are
    // still read (their `mac_bits` is the native width, their `ops_per_mac` is ignored).
    static constexpr int kSchemaVersion = 2;
    // One convention for every device: a MAC is a multiply and an add, 2 ops, as TOPS figures
    // are usually counted. Peak ops are reporting only; latency counts MAC-array cycles.
    static constexpr int kOpsPerMac = 2;

    std::string name;
    std::string description;
    std::string source;  // file path, or "built-in" for the profiles shipped in resources/devices

    // MAC array.
    int64_t rows = 0;
    int64_t cols = 0;
    Dataflow dataflow = Dataflow::OutputStationary;
    double clockMHz = 0;
    // Operand width a PE multiplies in one pass (Eyeriss 16, the TPU 8). Narrower operands
    // take one pass too (an INT8 array is no faster at 4 bits); wider ones are cut into
    // native-width slices, ceil(bits / nativeMacBits) passes per operand (shift-and-add).
    int nativeMacBits = 8;

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
    double peakMacsPerSecond() const { return double(macs()) * clockMHz * 1e6; }
    double peakOpsPerSecond() const { return peakMacsPerSecond() * kOpsPerMac; }
    // MAC-array passes for one operand of `bits` bits: 1 up to the native width, then
    // ceil(bits / nativeMacBits).
    int operandPasses(int bits) const { return bits <= nativeMacBits ? 1 : (bits + nativeMacBits - 1) / nativeMacBits; }
    // Passes of a multiply of a `wbits` by an `abits` operand: the product of both slicings.
    int macPasses(int wbits, int abits) const { return operandPasses(wbits) * operandPasses(abits); }
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
// The profile as a device document of the current schema version (what parseDevice reads
// back to the same fingerprint); `source` is not written.
std::string writeDevice(const DeviceProfile& d);

// Profiles shipped in resources/devices/*.json, embedded at build time.
std::vector<std::string> builtinDeviceNames();
DeviceProfile builtinDevice(const std::string& name);

// "eyeriss" / "tpu" -> built-in profile; anything with a '/' or ending in ".json" -> file.
DeviceProfile resolveDevice(const std::string& nameOrPath);

}  // namespace autosplit::sim
