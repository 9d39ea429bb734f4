#include "autosplit/util/file_io.h"

#include "autosplit/util/errors.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace autosplit {

std::string readWholeFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot read '" + path + "'");
    std::ostringstream s;
    s << f.rdbuf();
    if (f.bad()) throw Error("cannot read '" + path + "'");
    return s.str();
}

void writeFileAtomically(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw Error("cannot write '" + tmp + "'");
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!f) {
            std::remove(tmp.c_str());
            throw Error("cannot write '" + tmp + "'");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw Error("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
    }
}

}  // namespace autosplit
