#include "onnx_builder.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace autosplit::testing {

namespace fs = std::filesystem;

namespace {

const fs::path& tempDir() {
    static const fs::path dir = [] {
        auto base = fs::temp_directory_path() / ("autosplit-tests-" + std::to_string(::getpid()));
        fs::create_directories(base);
        static struct Cleanup {
            fs::path p;
            ~Cleanup() {
                std::error_code ec;
                fs::remove_all(p, ec);
            }
        } cleanup{base};
        return base;
    }();
    return dir;
}

}  // namespace

std::string writeTempFile(const std::string& name, const std::string& bytes) {
    static int counter = 0;
    const fs::path p = tempDir() / (std::to_string(counter++) + "_" + name);
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p.string();
}

}  // namespace autosplit::testing

namespace autosplit::testing {

std::string writeTemp(const autosplit::ModelBuilder& b, const std::string& stem) {
    static int written = 0;
    return writeTempFile(stem + "_" + std::to_string(written++) + ".onnx", b.bytes());
}

}  // namespace autosplit::testing
