// Whole files: read in one go, written so that readers never see half of one.
#pragma once

#include <string>

namespace autosplit {

// The file's bytes; throws Error "cannot read 'PATH'" when it cannot.
std::string readWholeFile(const std::string& path);

// Writes `bytes` to PATH.tmp and renames it over `path`; throws Error naming the file when it
// cannot (the temporary is removed; an existing `path` stays as it was).
void writeFileAtomically(const std::string& path, const std::string& bytes);

}  // namespace autosplit
