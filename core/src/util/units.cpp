#include "autosplit/util/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace autosplit {

namespace {

// Splits "1.5Gbps" into 1.5 and the unit with spaces dropped; the unit is lowercased unless
// `keepCase` (rates need case: M is mega and m milli, B is bytes and b bits).
bool splitNumber(const std::string& text, double& value, std::string& unit, bool keepCase = false) {
    std::string s;
    for (char ch : text)
        if (ch != ' ') s += ch;
    if (s.empty()) return false;
    size_t used = 0;
    try {
        value = std::stod(s, &used);
    } catch (const std::exception&) {
        return false;
    }
    unit.clear();
    for (size_t i = used; i < s.size(); ++i)
        unit += keepCase ? s[i] : char(std::tolower(static_cast<unsigned char>(s[i])));
    return std::isfinite(value);
}

// Bits per second per unit of a rate, or 0 when the unit is not one of the accepted spellings.
// Case is significant and only unambiguous spellings are accepted: a lowercase 'b' is a bit and
// an uppercase 'B' a byte, so "Mbps", "Mbit/s" and "Mb/s" are megabits, "MB/s" megabytes (x8);
// "KiB/s" and friends are binary bytes. The prefixes are k or K (kilo), M (mega), G (giga).
double bitsPerSecondPerUnit(const std::string& u) {
    if (u.empty()) return 1;  // a plain number is bits per second
    struct Prefix {
        const char* text;
        double scale;
    };
    static const Prefix decimal[] = {{"", 1}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}};
    static const Prefix binary[] = {{"Ki", 1024.0}, {"Mi", 1024.0 * 1024}, {"Gi", 1024.0 * 1024 * 1024}};
    for (const Prefix& p : decimal) {
        const std::string pre = p.text;
        for (const char* bits : {"bps", "bit/s", "b/s"})
            if (u == pre + bits) return p.scale;
        if (u == pre + "B/s") return 8 * p.scale;
    }
    for (const Prefix& p : binary)
        if (u == std::string(p.text) + "B/s") return 8 * p.scale;
    return 0;
}

// Why a rate unit was not accepted, for the spellings people most often mean differently.
std::string rateUnitHint(const std::string& u) {
    std::string lower;
    for (char ch : u) lower += char(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.size() >= 3 && lower.compare(lower.size() - 3, 3, "bps") == 0 && u[u.size() - 3] == 'B')
        return "'Bps' could be bytes or bits: write B/s for bytes per second (MB/s) or bps for bits (Mbps); ";
    if (u.size() > 1 && (u[0] == 'm' || u[0] == 'g') && u[1] != 'i') {
        const std::string fixed = char(std::toupper(static_cast<unsigned char>(u[0]))) + u.substr(1);
        return std::string("prefix '") + u[0] + "' " + (u[0] == 'm' ? "means milli" : "is not SI") +
               ": write '" + fixed + "' for " + (u[0] == 'm' ? "mega" : "giga") +
               (u.find('B') != std::string::npos ? "bytes" : "bits") + "; ";
    }
    return "";
}

}  // namespace

double parseBandwidth(const std::string& text) {
    static const char* kAccepted =
        "bits per second: bps, kbps, Mbps, Gbps, bit/s, kbit/s, Mbit/s, Gbit/s, b/s, kb/s, Mb/s, Gb/s; "
        "bytes per second: B/s, kB/s, KB/s, MB/s, GB/s (decimal), KiB/s, MiB/s, GiB/s (binary)";
    double v = 0;
    std::string u;
    if (!splitNumber(text, v, u, /*keepCase=*/true))
        throw UnitError("bandwidth '" + text + "' is not a number with a unit such as 3Mbps, 500kbps, 1.5Gbps, 2MB/s");
    const double scale = bitsPerSecondPerUnit(u);
    if (scale == 0)
        throw UnitError("bandwidth '" + text + "': unknown unit '" + u + "' (" + rateUnitHint(u) + "accepted: " +
                        kAccepted + ")");
    if (v <= 0) throw UnitError("bandwidth must be positive, got '" + text + "'");
    if (!std::isfinite(v * scale)) throw UnitError("bandwidth '" + text + "' is too large");
    return v * scale;
}

int64_t parseBytes(const std::string& text) {
    double v = 0;
    std::string u;
    if (!splitNumber(text, v, u, /*keepCase=*/true))
        throw UnitError("memory size '" + text + "' is not a number with a unit such as 4GiB, 512MB");
    // Bytes only, uppercase B (a lowercase b is a bit: 4Gb is 0.5 GB); the prefix's case is free
    // (kB, KB) except m, which is milli.
    double scale = 0;
    if (u.empty() || u == "B") scale = 1;
    else if (u == "kB" || u == "KB") scale = 1e3;
    else if (u == "MB") scale = 1e6;
    else if (u == "GB") scale = 1e9;
    else if (u == "KiB" || u == "kiB") scale = 1024.0;
    else if (u == "MiB") scale = 1024.0 * 1024;
    else if (u == "GiB") scale = 1024.0 * 1024 * 1024;
    std::string lower;
    for (char ch : u) lower += char(std::tolower(static_cast<unsigned char>(ch)));
    if (scale == 0) {
        const bool bits = !u.empty() && u.back() == 'b';
        const bool known = lower == "b" || lower == "kb" || lower == "mb" || lower == "gb" || lower == "kib" || lower == "mib" ||
                           lower == "gib";
        throw UnitError("memory size '" + text + "': " +
                        (known && bits ? "'" + u + "' is bits (lowercase b); memory sizes are bytes: write B, e.g. 4GB or 4GiB"
                         : known       ? "write the prefix in upper case ('" + u + "' reads as milli or is ambiguous), e.g. 512MB, 4GiB"
                                       : "unknown unit '" + u + "'") +
                        " (use B, KB, MB, GB, KiB, MiB, GiB)");
    }
    if (v < 0) throw UnitError("memory size must not be negative, got '" + text + "'");
    if (v * scale > 9e18) throw UnitError("memory size '" + text + "' is too large");
    return int64_t(std::llround(v * scale));
}

double parsePercent(const std::string& text) {
    double v = 0;
    std::string u;
    if (!splitNumber(text, v, u) || !(u.empty() || u == "%"))
        throw UnitError("accuracy-drop threshold '" + text + "' is not a percentage such as 5%");
    if (v < 0 || v > 100) throw UnitError("accuracy-drop threshold must be within 0..100%, got '" + text + "'");
    return v;
}

double parseMilliseconds(const std::string& text) {
    double v = 0;
    std::string u;
    if (!splitNumber(text, v, u)) throw UnitError("duration '" + text + "' is not a number such as 1ms or 200us");
    double scale = 0;
    if (u.empty() || u == "ms") scale = 1;
    else if (u == "us") scale = 1e-3;
    else if (u == "s") scale = 1e3;
    else throw UnitError("duration '" + text + "': unknown unit '" + u + "' (use s, ms or us)");
    if (v < 0) throw UnitError("duration must not be negative, got '" + text + "'");
    return v * scale;
}

std::string formatBandwidth(double bps) {
    char buf[48];
    if (bps >= 1e9) std::snprintf(buf, sizeof buf, "%g Gbps", bps / 1e9);
    else if (bps >= 1e6) std::snprintf(buf, sizeof buf, "%g Mbps", bps / 1e6);
    else if (bps >= 1e3) std::snprintf(buf, sizeof buf, "%g kbps", bps / 1e3);
    else std::snprintf(buf, sizeof buf, "%g bps", bps);
    return buf;
}

std::string formatBytes(int64_t bytes) {
    char buf[48];
    const double b = double(bytes);
    if (b >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
    else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
    return buf;
}

std::string formatCount(double v) {
    char buf[32];
    if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
    else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
    else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", v / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

}  // namespace autosplit
