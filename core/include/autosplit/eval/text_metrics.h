// Text metrics of the CTC recognizer task (PP-OCR conventions): the character dictionary, greedy
// decoding of per-step class scores, and the character accuracy of decoded strings (Levenshtein
// distance over Unicode code points of UTF-8 strings).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace autosplit {

// One entry per line of a PaddleOCR character dictionary (UTF-8), plus " " at the end when
// `useSpaceChar` (PP-OCR's use_space_char, on for ppocr_keys_v1.txt). Throws Error naming the
// file when it cannot be read or is empty.
std::vector<std::string> loadCtcDictionary(const std::string& path, bool useSpaceChar = true);
// Greedy decoding of scores [T, C] (row-major): argmax per step, merge repeats, drop blank 0;
// class c >= 1 maps to dict[c - 1] (an index past the dictionary is an Error).
std::string ctcGreedyDecode(const float* scores, int64_t steps, int64_t classes, const std::vector<std::string>& dict);
// Unicode code points in a UTF-8 string.
int64_t codePointCount(const std::string& s);
// Levenshtein distance over Unicode code points of two UTF-8 strings.
int64_t editDistance(const std::string& a, const std::string& b);
// 100 * max(0, 1 - sum edit distance / sum reference length) over code points: the character
// accuracy of `predicted` against `reference` (100 when both are empty).
double charAccuracy(const std::vector<std::string>& predicted, const std::vector<std::string>& reference);

}  // namespace autosplit
