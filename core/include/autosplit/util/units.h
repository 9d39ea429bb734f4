// Units, parsed and formatted in one place with one convention:
//  - link rates are bits per second with decimal prefixes (kbps, Mbps, Gbps); parsing also takes
//    bytes per second (MB/s = 8 Mbps, MiB/s = 8 x 2^20 bps), telling bits from bytes by case;
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

// Returns bits per second. Case matters: a lowercase b is a bit, an uppercase B a byte.
//   bits:  "3e6" (plain number), bps, kbps, Mbps, Gbps, bit/s, kbit/s, Mbit/s, Gbit/s,
//          b/s, kb/s, Mb/s, Gb/s ("Kbps", "Kbit/s", "Kb/s" too);
//   bytes: B/s, kB/s, KB/s, MB/s, GB/s (10^3 steps), KiB/s, MiB/s, GiB/s (2^10 steps), x 8.
// Spellings whose case makes them ambiguous are rejected with the accepted list: "mbps" and
// "mB/s" (m is milli), "MBps" and "MBPS" (bytes or bits?), as are a missing "/s" ("3Mbit") and
// a malformed, negative, zero or non-finite value.
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
