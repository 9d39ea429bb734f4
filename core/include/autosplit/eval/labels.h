// Label files of a data folder: one label per sample, as text (CTC ground truth) or as class
// indices (classifiers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace autosplit {

// Labels for the samples of a folder, in `sampleNames` order. One line per sample:
// "FILE<TAB>LABEL" (PaddleOCR's rec_gt format: the label is the rest of the line after the
// first tab, spaces kept) or "FILE LABEL" (first space) when the line has no tab. Empty lines
// and lines starting with '#' are skipped. Throws Error naming the file and line for a sample
// without a label, a label for an unknown file, or a file labelled twice.
std::vector<std::string> readLabelFile(const std::string& path, const std::vector<std::string>& sampleNames);
// Integer class labels (for classifiers): throws Error naming the sample for a non-integer.
std::vector<int64_t> classLabels(const std::vector<std::string>& labels, const std::vector<std::string>& sampleNames);

}  // namespace autosplit
