#include "autosplit/util/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace autosplit {

namespace {

// Splits "1.5Gbps" into 1.5 and "gbps" (lowercased, spaces dropped).
bool splitNumber(const std::string& text, double& value, std::string& unit) {
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
    for (size_t i = used; i < s.size(); ++i) unit += char(std::tolower(static_cast<unsigned char>(s[i])));
    return std::isfinite(value);
}

}  // namespace

double parseBandwidth(const std::string& text) {
    double v = 0;
    std::string u;
    if (!splitNumber(text, v, u))
        throw UnitError("bandwidth '" + text + "' is not a number with a unit such as 3Mbps, 500kbps, 1.5Gbps");
    double scale = 0;
    if (u.empty() || u == "bps" || u == "b/s") scale = 1;
    else if (u == "kbps" || u == "kb/s" || u == "kbit/s") scale = 1e3;
    else if (u == "mbps" || u == "mb/s" || u == "mbit/s") scale = 1e6;
    else if (u == "gbps" || u == "gb/s" || u == "gbit/s") scale = 1e9;
    else throw UnitError("bandwidth '" + text + "': unknown unit '" + u + "' (use bps, kbps, Mbps or Gbps)");
    if (v <= 0) throw UnitError("bandwidth must be positive, got '" + text + "'");
    return v * scale;
}

int64_t parseBytes(const std::string& text) {
    double v = 0;
    std::string u;
    if (!splitNumber(text, v, u))
        throw UnitError("memory size '" + text + "' is not a number with a unit such as 4GiB, 512MB");
    double scale = 0;
    if (u.empty() || u == "b") scale = 1;
    else if (u == "kb") scale = 1e3;
    else if (u == "mb") scale = 1e6;
    else if (u == "gb") scale = 1e9;
    else if (u == "kib") scale = 1024.0;
    else if (u == "mib") scale = 1024.0 * 1024;
    else if (u == "gib") scale = 1024.0 * 1024 * 1024;
    else throw UnitError("memory size '" + text + "': unknown unit '" + u + "' (use B, KB, MB, GB, KiB, MiB, GiB)");
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
