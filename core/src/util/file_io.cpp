#include "autosplit/util/file_io.h"

#include "autosplit/util/errors.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace autosplit {

std::string readWholeFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) throw Error("cannot read '" + path + "'");
    // One read into a string of the file's size (a data folder's images are read this way);
    // a stream without a size (a pipe) is copied through a buffer.
    const std::streamoff size = f.tellg();
    if (size < 0) {
        f.clear();
        std::ostringstream s;
        s << f.rdbuf();
        if (f.bad()) throw Error("cannot read '" + path + "'");
        return s.str();
    }
    std::string bytes(static_cast<size_t>(size), '\0');
    f.seekg(0);
    if (size > 0 && (!f.read(bytes.data(), size) || f.gcount() != size)) throw Error("cannot read '" + path + "'");
    return bytes;
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
