#include "autosplit/eval/text_metrics.h"

#include "autosplit/util/errors.h"

#include <algorithm>
#include <fstream>

namespace autosplit {

namespace {

// Code points of a UTF-8 string; an invalid byte counts as one code point of its own.
std::vector<char32_t> codePoints(const std::string& s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (i + static_cast<size_t>(len) > s.size()) len = 1;
        char32_t cp = len == 1 ? c : (c & (0x7f >> len));
        for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
        out.push_back(cp);
        i += static_cast<size_t>(len);
    }
    return out;
}

int64_t editDistanceCp(const std::vector<char32_t>& a, const std::vector<char32_t>& b) {
    std::vector<int64_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int64_t>(j);
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = static_cast<int64_t>(i);
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace

std::vector<std::string> loadCtcDictionary(const std::string& path, bool useSpaceChar) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot read the CTC dictionary '" + path + "'");
    std::vector<std::string> dict;
    std::string line;
    while (std::getline(f, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        dict.push_back(line);
    }
    if (dict.empty()) throw Error("the CTC dictionary '" + path + "' is empty");
    if (useSpaceChar) dict.emplace_back(" ");
    return dict;
}

std::string ctcGreedyDecode(const float* scores, int64_t steps, int64_t classes, const std::vector<std::string>& dict) {
    std::string out;
    int64_t prev = -1;
    for (int64_t t = 0; t < steps; ++t) {
        const float* row = scores + t * classes;
        const int64_t c = std::max_element(row, row + classes) - row;
        if (c != prev && c != 0) {
            if (c - 1 >= static_cast<int64_t>(dict.size()))
                throw Error("CTC class " + std::to_string(c) + " is past the dictionary (" + std::to_string(dict.size()) +
                            " entries)");
            out += dict[static_cast<size_t>(c - 1)];
        }
        prev = c;
    }
    return out;
}

int64_t codePointCount(const std::string& s) { return static_cast<int64_t>(codePoints(s).size()); }

int64_t editDistance(const std::string& a, const std::string& b) { return editDistanceCp(codePoints(a), codePoints(b)); }

double charAccuracy(const std::vector<std::string>& predicted, const std::vector<std::string>& reference) {
    if (predicted.size() != reference.size())
        throw Error("character accuracy: " + std::to_string(predicted.size()) + " predictions for " +
                    std::to_string(reference.size()) + " references");
    int64_t dist = 0, len = 0;
    for (size_t i = 0; i < predicted.size(); ++i) {
        const auto r = codePoints(reference[i]);
        dist += editDistanceCp(codePoints(predicted[i]), r);
        len += static_cast<int64_t>(r.size());
    }
    if (len == 0) return dist == 0 ? 100.0 : 0.0;
    return 100.0 * std::max(0.0, 1.0 - static_cast<double>(dist) / static_cast<double>(len));
}

}  // namespace autosplit
