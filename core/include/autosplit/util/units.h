// Units, parsed and formatted in one place with one convention:
//  - link rates are bits per second with decimal prefixes (kbps, Mbps, Gbps);
//  - memory and data sizes are bytes with binary prefixes when formatted (KiB, MiB, GiB);
//    parsing takes both decimal (KB = 1000) and binary (KiB = 1024) prefixes;
//  - durations are milliseconds; accuracy thresholds percentage points;
//  - counts (parameters, MACs, elements) with decimal K/M/G suffixes.
#pragma once

#include "autosplit/util/errors.h"

#include <cstdint>
#include <string>

namespace autosplit {

// A value that does not parse as its unit: one line naming the text and the accepted forms.
class UnitError : public Error {
public:
    using Error::Error;
};

// "3Mbps", "500kbps", "1.5Gbps", "9600bps", "3e6" (bits per second; decimal prefixes).
// Throws UnitError on a malformed, negative, zero or non-finite value.
double parseBandwidth(const std::string& text);
// "4GiB", "512MB", "64KiB", "1024" (bytes; KB/MB/GB decimal, KiB/MiB/GiB binary).
int64_t parseBytes(const std::string& text);
// "5%" or "5" (percentage points); throws outside 0..100.
double parsePercent(const std::string& text);
// "1ms", "0.5ms", "200us", "0" (milliseconds); throws when negative.
double parseMilliseconds(const std::string& text);
std::string formatBandwidth(double bps);  // "3 Mbps"
std::string formatBytes(int64_t bytes);   // "4.00 GiB"
std::string formatCount(double v);        // 1354938 -> "1.35M" (counts: parameters, MACs, elements)

}  // namespace autosplit
