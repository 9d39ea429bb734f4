#include "autosplit/eval/labels.h"

#include "autosplit/util/errors.h"

#include <fstream>
#include <unordered_map>

namespace autosplit {

std::vector<std::string> readLabelFile(const std::string& path, const std::vector<std::string>& sampleNames) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot read the label file '" + path + "'");
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < sampleNames.size(); ++i) index.emplace(sampleNames[i], i);
    std::vector<std::string> labels(sampleNames.size());
    std::vector<char> seen(sampleNames.size(), 0);
    std::string line;
    for (int lineNo = 1; std::getline(f, line); ++lineNo) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        size_t sep = line.find('\t');
        if (sep == std::string::npos) sep = line.find(' ');
        const std::string where = path + ":" + std::to_string(lineNo);
        if (sep == std::string::npos) throw Error(where + ": expected FILE<TAB>LABEL");
        std::string file = line.substr(0, sep);
        if (const auto slash = file.find_last_of('/'); slash != std::string::npos) file = file.substr(slash + 1);
        auto it = index.find(file);
        if (it == index.end()) throw Error(where + ": '" + file + "' is not one of the " + std::to_string(sampleNames.size()) + " data files");
        if (seen[it->second]) throw Error(where + ": '" + file + "' is labelled twice");
        seen[it->second] = 1;
        labels[it->second] = line.substr(sep + 1);
    }
    for (size_t i = 0; i < sampleNames.size(); ++i)
        if (!seen[i]) throw Error("the label file '" + path + "' has no label for '" + sampleNames[i] + "'");
    return labels;
}

std::vector<int64_t> classLabels(const std::vector<std::string>& labels, const std::vector<std::string>& sampleNames) {
    std::vector<int64_t> out;
    for (size_t i = 0; i < labels.size(); ++i) {
        size_t used = 0;
        int64_t v = -1;
        try {
            v = std::stoll(labels[i], &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != labels[i].size() || v < 0)
            throw Error("label '" + labels[i] + "' of '" + (i < sampleNames.size() ? sampleNames[i] : std::to_string(i)) +
                        "' is not a class index");
        out.push_back(v);
    }
    return out;
}

}  // namespace autosplit
