#include "autosplit/sim/measured_profile.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>
#include <utility>

namespace autosplit::sim {

namespace {

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Splits one CSV line; quoted fields may hold commas and doubled quotes.
std::vector<std::string> splitCsv(const std::string& line, const std::string& where) {
    std::vector<std::string> fields;
    std::string cur;
    bool quoted = false, wasQuoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        const char ch = line[i];
        if (quoted) {
            if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
            else if (ch == '"') quoted = false;
            else cur += ch;
        } else if (ch == '"' && trim(cur).empty()) {
            quoted = wasQuoted = true;
            cur.clear();
        } else if (ch == ',') {
            fields.push_back(wasQuoted ? cur : trim(cur));
            cur.clear();
            wasQuoted = false;
        } else {
            cur += ch;
        }
    }
    if (quoted) throw ProfileError(where + ": unterminated quoted field");
    fields.push_back(wasQuoted ? cur : trim(cur));
    return fields;
}

bool parseInt(const std::string& s, int& out) {
    if (s.empty()) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

bool parseBitPair(const std::string& text, int& w, int& a) {
    const std::string s = lower(text);
    if (parseInt(s, w)) {
        a = w;
        return w > 0 && w <= 32;
    }
    if (s.size() < 4 || s[0] != 'w') return false;
    const size_t apos = s.find('a');
    if (apos == std::string::npos) return false;
    if (!parseInt(s.substr(1, apos - 1), w) || !parseInt(s.substr(apos + 1), a)) return false;
    return w > 0 && w <= 32 && a > 0 && a <= 32;
}

std::string MeasuredProfile::fingerprint() const {
    std::ostringstream s;
    s.precision(17);
    for (const auto& e : entries) s << e.layer << '\x1f' << e.weightBits << 'a' << e.activationBits << '=' << e.ms << '\n';
    return s.str();
}

MeasuredProfile parseMeasuredProfile(const std::string& text, const std::string& displayName) {
    MeasuredProfile p;
    p.source = displayName;
    std::istringstream in(text);
    std::string raw;
    int lineNo = 0;
    int colLayer = -1, colBits = -1, colMs = -1;
    size_t columns = 0;  // 0 until the header is read
    std::map<std::tuple<std::string, int, int>, int> seen;
    while (std::getline(in, raw)) {
        ++lineNo;
        if (!raw.empty() && raw.back() == '\r') raw.pop_back();
        if (lineNo == 1 && raw.rfind("\xEF\xBB\xBF", 0) == 0) raw.erase(0, 3);  // UTF-8 BOM
        const std::string t = trim(raw);
        if (t.empty() || t[0] == '#') continue;
        const std::string where = displayName + ":" + std::to_string(lineNo);
        const auto fields = splitCsv(raw, where);
        if (columns == 0) {
            columns = fields.size();
            for (size_t i = 0; i < fields.size(); ++i) {
                const std::string name = lower(fields[i]);
                int* slot = name == "layer" ? &colLayer : name == "bits" ? &colBits : name == "ms" ? &colMs : nullptr;
                if (!slot) throw ProfileError(where + ": unknown column '" + fields[i] + "' (expected layer,bits,ms)");
                if (*slot >= 0) throw ProfileError(where + ": column '" + name + "' appears twice");
                *slot = int(i);
            }
            for (auto [col, name] : {std::pair{colLayer, "layer"}, {colBits, "bits"}, {colMs, "ms"}})
                if (col < 0) throw ProfileError(where + ": header lacks column '" + name + "' (expected layer,bits,ms)");
            continue;
        }
        if (fields.size() != columns)
            throw ProfileError(where + ": expected " + std::to_string(columns) + " fields, got " +
                               std::to_string(fields.size()));
        MeasuredLatency e;
        e.line = lineNo;
        e.layer = fields[size_t(colLayer)];
        if (e.layer.empty()) throw ProfileError(where + ": column 'layer' is empty");
        if (!parseBitPair(fields[size_t(colBits)], e.weightBits, e.activationBits))
            throw ProfileError(where + ": column 'bits' must look like w8a8 or 8 (1..32 bits), got '" +
                               fields[size_t(colBits)] + "'");
        const std::string& msText = fields[size_t(colMs)];
        char* end = nullptr;
        e.ms = std::strtod(msText.c_str(), &end);
        if (msText.empty() || end != msText.c_str() + msText.size() || !std::isfinite(e.ms))
            throw ProfileError(where + ": column 'ms' must be a number, got '" + msText + "'");
        if (e.ms < 0) throw ProfileError(where + ": column 'ms' must not be negative, got " + msText);
        auto [it, inserted] = seen.emplace(std::tuple{e.layer, e.weightBits, e.activationBits}, lineNo);
        if (!inserted)
            throw ProfileError(where + ": layer '" + e.layer + "' at w" + std::to_string(e.weightBits) + "a" +
                               std::to_string(e.activationBits) + " already measured on line " +
                               std::to_string(it->second));
        p.entries.push_back(std::move(e));
    }
    if (columns == 0) throw ProfileError(displayName + ": empty profile (expected a header layer,bits,ms)");
    return p;
}

MeasuredProfile loadMeasuredProfile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ProfileError(path + ": cannot open measured profile");
    std::ostringstream text;
    text << in.rdbuf();
    return parseMeasuredProfile(text.str(), path);
}

}  // namespace autosplit::sim
