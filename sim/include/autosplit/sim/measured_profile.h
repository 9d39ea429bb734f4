// Per-layer latencies measured on real hardware, which override the simulator for those
// (layer, bits) cells of a latency table.
//
// CSV, UTF-8, one header line naming the columns `layer`, `bits`, `ms` (any order), then one
// row per measurement. `bits` is `w8a8` (weights 8, activations 8) or a single number meaning
// both. Fields may be double-quoted ("a,b" with "" for a quote). Blank lines and lines
// starting with '#' are ignored. Example:
//     layer,bits,ms
//     conv1,w8a8,1.92
//     conv1,4,1.10
#pragma once

#include "autosplit/util/errors.h"

#include <string>
#include <vector>

namespace autosplit::sim {

// A profile file that cannot be used; the message names the file, the line and the column.
class ProfileError : public Error {
public:
    using Error::Error;
};

struct MeasuredLatency {
    std::string layer;
    int weightBits = 0;
    int activationBits = 0;
    double ms = 0;
    int line = 0;  // 1-based line in the file, for error messages
};

struct MeasuredProfile {
    std::string source;  // file path or display name
    std::vector<MeasuredLatency> entries;
    // Canonical text of the entries: part of latency-table cache keys.
    std::string fingerprint() const;
};

// Throws ProfileError ("FILE:LINE: ...") on a missing/unknown column, a malformed bits value,
// a non-numeric, negative or non-finite time, a wrong field count or a repeated (layer, bits).
MeasuredProfile parseMeasuredProfile(const std::string& text, const std::string& displayName);
MeasuredProfile loadMeasuredProfile(const std::string& path);

// "w8a4" -> (8, 4); "8" -> (8, 8). False unless both widths are within 1..32.
bool parseBitPair(const std::string& text, int& weightBits, int& activationBits);

}  // namespace autosplit::sim
