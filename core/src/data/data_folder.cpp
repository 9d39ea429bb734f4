#include "autosplit/data/data_folder.h"

#include "autosplit/data/tensor_io.h"
#include "autosplit/util/errors.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace fs = std::filesystem;

namespace autosplit {

namespace {
bool isImagePath(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}
bool hasTensorFiles(const std::string& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".pb" || ext == ".npy")) return true;
    }
    return false;
}
}  // namespace

PreprocessProfile resolveProfile(const std::string& profilePath, const std::string& dir, std::vector<std::string>* warnings) {
    if (!profilePath.empty()) return loadPreprocessProfile(profilePath);
    if (!dir.empty()) {
        const std::string local = (fs::path(dir) / "preprocess.json").string();
        std::error_code ec;
        if (fs::is_regular_file(local, ec)) return loadPreprocessProfile(local);
    }
    if (warnings)
        warnings->push_back("no preprocessing profile (--preprocess FILE or preprocess.json in the folder): "
                            "pixels / 255, RGB, NCHW, stretched to the model's input size, no mean/std");
    return PreprocessProfile{};
}

Dataset loadDataFolder(const Graph& g, const std::string& dir, const std::string& profilePath,
                       std::vector<std::string>* warnings) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error("data folder '" + dir + "' does not exist");
    const bool images = folderHasImages(dir), tensors = hasTensorFiles(dir);
    if (images && tensors) throw Error("data folder '" + dir + "' mixes images and tensor files; keep one kind");
    if (images) return loadImageFolder(g, dir, resolveProfile(profilePath, dir, warnings));
    if (tensors) return loadTensorFolder(g, dir);
    throw Error("data folder '" + dir + "' holds no images (.png, .jpg) or tensor files (.pb, .npy)");
}

TensorData loadInputFile(const Graph& g, int inputIndex, const std::string& path, const std::string& profilePath,
                         std::vector<std::string>* warnings) {
    const Tensor& in = g.tensors[g.inputs[static_cast<size_t>(inputIndex)]];
    if (isImagePath(path)) {
        const std::string dir = fs::path(path).parent_path().string();
        return imageToTensor(readImage(path), resolveProfile(profilePath, dir.empty() ? "." : dir, warnings), in.shape, path);
    }
    return readTensorFile(path);
}

}  // namespace autosplit
