#include "autosplit/data/tensor_io.h"
#include "autosplit/util/file_io.h"

#include "autosplit/util/float16.h"

#include "autosplit/util/errors.h"
#include "onnx/proto_util.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace autosplit {

namespace {

std::string readAll(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot open tensor file '" + path + "'");
    std::ostringstream s;
    s << f.rdbuf();
    if (f.bad()) throw Error("cannot read tensor file '" + path + "'");
    return s.str();
}

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

template <class T>
T loadLE(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

TensorData readNpy(const std::string& bytes, const std::string& path) {
    auto bad = [&](const std::string& why) { return Error("'" + path + "' is not a usable .npy file: " + why); };
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw bad("missing magic");
    const int major = static_cast<unsigned char>(bytes[6]);
    size_t headerLen, headerStart;
    if (major == 1) {
        headerLen = loadLE<uint16_t>(bytes.data() + 8);
        headerStart = 10;
    } else {
        if (bytes.size() < 12) throw bad("truncated header");
        headerLen = loadLE<uint32_t>(bytes.data() + 8);
        headerStart = 12;
    }
    if (headerStart + headerLen > bytes.size()) throw bad("truncated header");
    const std::string header = bytes.substr(headerStart, headerLen);
    std::smatch m;
    if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'"))) throw bad("no descr");
    const std::string descr = m[1];
    if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*True"))) throw bad("Fortran order");
    if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)"))) throw bad("no shape");
    TensorData t;
    {
        std::string dims = m[1];
        std::regex num("\\d+");
        for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
            t.shape.push_back(std::stoll(it->str()));
    }
    if (!descr.empty() && descr[0] == '>') throw bad("big-endian data");
    const std::string kind = descr.size() > 1 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=') ? descr.substr(1) : descr;
    const int64_t n = t.elementCount();
    const char* p = bytes.data() + headerStart + headerLen;
    const size_t avail = bytes.size() - headerStart - headerLen;
    auto need = [&](size_t es) {
        if (avail < static_cast<size_t>(n) * es)
            throw bad("holds " + std::to_string(avail / es) + " values, shape needs " + std::to_string(n));
    };
    if (kind == "f4" || kind == "f8" || kind == "f2") {
        t.dtype = kind == "f4" ? DType::Float32 : kind == "f8" ? DType::Double : DType::Float16;
        const size_t es = kind == "f4" ? 4 : kind == "f8" ? 8 : 2;
        need(es);
        t.floats.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i)
            t.floats[i] = es == 4 ? loadLE<float>(p + i * 4)
                          : es == 8 ? static_cast<float>(loadLE<double>(p + i * 8))
                                    : halfBitsToFloat(loadLE<uint16_t>(p + i * 2));
    } else if (kind == "i8" || kind == "i4" || kind == "i2" || kind == "i1" || kind == "u1" || kind == "b1") {
        t.dtype = kind == "i8" ? DType::Int64 : kind == "i4" ? DType::Int32 : kind == "i2" ? DType::Int16
                  : kind == "i1" ? DType::Int8 : kind == "u1" ? DType::UInt8 : DType::Bool;
        const size_t es = kind == "i8" ? 8 : kind == "i4" ? 4 : kind == "i2" ? 2 : 1;
        need(es);
        t.ints.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
            const char* q = p + i * es;
            t.ints[i] = es == 8 ? loadLE<int64_t>(q) : es == 4 ? loadLE<int32_t>(q) : es == 2 ? loadLE<int16_t>(q)
                        : kind == "i1" ? static_cast<int64_t>(static_cast<int8_t>(*q))
                                       : static_cast<int64_t>(static_cast<uint8_t>(*q));
        }
    } else {
        throw bad("element type '" + descr + "' is not supported");
    }
    return t;
}

std::string npyBytes(const TensorData& t) {
    std::string descr, data;
    if (t.isFloat()) {
        descr = "<f4";
        data.resize(t.floats.size() * 4);
        if (!t.floats.empty()) std::memcpy(data.data(), t.floats.data(), data.size());
    } else {
        descr = "<i8";
        data.resize(t.ints.size() * 8);
        if (!t.ints.empty()) std::memcpy(data.data(), t.ints.data(), data.size());
    }
    std::string shape = "(";
    for (size_t i = 0; i < t.shape.size(); ++i) shape += std::to_string(t.shape[i]) + (t.shape.size() == 1 ? "," : i + 1 < t.shape.size() ? ", " : "");
    shape += ")";
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    const size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    const uint16_t hl = static_cast<uint16_t>(header.size());
    out.append(reinterpret_cast<const char*>(&hl), 2);
    return out + header + data;
}

}  // namespace

TensorData readTensorProto(const std::string& bytes, const std::string& displayName, std::string* name) {
    onnx::TensorProto proto;
    if (!proto.ParseFromString(bytes)) throw Error("'" + displayName + "' is not a TensorProto file");
    try {
        TensorData t = detail::tensorFromProto(proto, std::filesystem::path(displayName).parent_path());
        if (name) *name = proto.name();
        return t;
    } catch (const ImportError& e) {
        throw Error("'" + displayName + "': " + e.what());
    }
}

TensorData readTensorFile(const std::string& path, std::string* name) {
    const std::string bytes = readAll(path);
    if (endsWith(path, ".npy")) {
        if (name) name->clear();
        return readNpy(bytes, path);
    }
    return readTensorProto(bytes, path, name);
}

void writeTensorFile(const std::string& path, const TensorData& t, const std::string& name) {
    std::string bytes;
    if (endsWith(path, ".npy")) {
        bytes = npyBytes(t);
    } else {
        onnx::TensorProto proto;
        detail::tensorToProto(t, name, proto);
        if (!proto.SerializeToString(&bytes)) throw Error("cannot serialize tensor for '" + path + "'");
    }
    writeFileAtomically(path, bytes);
}

}  // namespace autosplit
