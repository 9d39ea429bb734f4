#include "onnx/proto_util.h"

#include "autosplit/util/errors.h"
#include "autosplit/util/float16.h"

#include <cstring>
#include <fstream>

namespace autosplit::detail {

using TP = onnx::TensorProto;

// The codes of the one table (dtype_codes.cpp) are onnx.proto's.
static_assert(TP::FLOAT == 1 && TP::UINT8 == 2 && TP::INT8 == 3 && TP::UINT16 == 4 && TP::INT16 == 5 &&
              TP::INT32 == 6 && TP::INT64 == 7 && TP::BOOL == 9 && TP::FLOAT16 == 10 && TP::DOUBLE == 11 &&
              TP::UINT32 == 12 && TP::UINT64 == 13 && TP::BFLOAT16 == 16);

namespace {

std::string externalBytes(const TP& t, const std::filesystem::path& baseDir) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : t.external_data()) {
        if (kv.key() == "location") location = kv.value();
        else if (kv.key() == "offset") offset = std::stoll(kv.value());
        else if (kv.key() == "length") length = std::stoll(kv.value());
    }
    if (location.empty()) throw ImportError("tensor '" + t.name() + "' has external data without a location");
    const auto path = baseDir / location;
    std::ifstream f(path, std::ios::binary);
    if (!f) throw ImportError("tensor '" + t.name() + "': external data file '" + path.string() + "' cannot be opened");
    f.seekg(0, std::ios::end);
    const int64_t size = f.tellg();
    if (length < 0) length = size - offset;
    if (offset < 0 || offset + length > size)
        throw ImportError("tensor '" + t.name() + "': external data range is beyond the end of '" + path.string() + "'");
    std::string bytes(static_cast<size_t>(length), '\0');
    f.seekg(offset);
    f.read(bytes.data(), length);
    return bytes;
}

template <typename T>
void fromRaw(const std::string& raw, int64_t n, std::vector<T>& out, const std::function<T(const char*)>& read,
             size_t elemBytes, const std::string& name) {
    if (raw.size() != static_cast<size_t>(n) * elemBytes)
        throw ImportError("tensor '" + name + "' holds " + std::to_string(raw.size()) + " bytes, but its dims need " +
                          std::to_string(static_cast<size_t>(n) * elemBytes));
    out.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[i] = read(raw.data() + i * elemBytes);
}

template <typename V>
V load(const char* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}

}  // namespace

TensorData tensorFromProto(const TP& t, const std::filesystem::path& baseDir) {
    TensorData d;
    d.dtype = dtypeFromOnnx(t.data_type());
    if (d.dtype == DType::Other)
        throw ImportError("tensor '" + t.name() + "' has an unsupported element type (" + std::to_string(t.data_type()) + ")");
    for (auto dim : t.dims()) {
        if (dim < 0) throw ImportError("tensor '" + t.name() + "' has a negative dimension");
        d.shape.push_back(dim);
    }
    const int64_t n = d.elementCount();
    const bool external = t.data_location() == TP::EXTERNAL;
    const std::string raw = external ? externalBytes(t, baseDir) : std::string();
    const std::string& bytes = external ? raw : t.raw_data();
    const bool hasRaw = external || t.has_raw_data();
    const std::string& name = t.name();

    auto mismatch = [&](int64_t have) {
        return ImportError("tensor '" + name + "' holds " + std::to_string(have) + " values, but its dims " +
                           "need " + std::to_string(n));
    };
    switch (t.data_type()) {
    case TP::FLOAT:
        if (hasRaw) {
            if (bytes.size() != static_cast<size_t>(n) * 4) throw mismatch(static_cast<int64_t>(bytes.size() / 4));
            d.floats.resize(static_cast<size_t>(n));
            if (n) std::memcpy(d.floats.data(), bytes.data(), bytes.size());
        } else {
            if (t.float_data_size() != n) throw mismatch(t.float_data_size());
            d.floats.assign(t.float_data().begin(), t.float_data().end());
        }
        break;
    case TP::DOUBLE:
        if (hasRaw) fromRaw<float>(bytes, n, d.floats, [](const char* p) { return float(load<double>(p)); }, 8, name);
        else {
            if (t.double_data_size() != n) throw mismatch(t.double_data_size());
            for (double v : t.double_data()) d.floats.push_back(static_cast<float>(v));
        }
        break;
    case TP::FLOAT16:
    case TP::BFLOAT16: {
        auto conv = t.data_type() == TP::FLOAT16 ? halfBitsToFloat : bfloat16BitsToFloat;
        if (hasRaw) fromRaw<float>(bytes, n, d.floats, [&](const char* p) { return conv(load<uint16_t>(p)); }, 2, name);
        else {
            if (t.int32_data_size() != n) throw mismatch(t.int32_data_size());
            for (int32_t v : t.int32_data()) d.floats.push_back(conv(static_cast<uint16_t>(v)));
        }
        break;
    }
    case TP::INT64:
        if (hasRaw) fromRaw<int64_t>(bytes, n, d.ints, [](const char* p) { return load<int64_t>(p); }, 8, name);
        else {
            if (t.int64_data_size() != n) throw mismatch(t.int64_data_size());
            d.ints.assign(t.int64_data().begin(), t.int64_data().end());
        }
        break;
    case TP::UINT64:
        if (hasRaw) fromRaw<int64_t>(bytes, n, d.ints, [](const char* p) { return int64_t(load<uint64_t>(p)); }, 8, name);
        else {
            if (t.uint64_data_size() != n) throw mismatch(t.uint64_data_size());
            for (auto v : t.uint64_data()) d.ints.push_back(static_cast<int64_t>(v));
        }
        break;
    case TP::INT32:
        if (hasRaw) fromRaw<int64_t>(bytes, n, d.ints, [](const char* p) { return int64_t(load<int32_t>(p)); }, 4, name);
        else {
            if (t.int32_data_size() != n) throw mismatch(t.int32_data_size());
            d.ints.assign(t.int32_data().begin(), t.int32_data().end());
        }
        break;
    case TP::UINT32:
        if (hasRaw) fromRaw<int64_t>(bytes, n, d.ints, [](const char* p) { return int64_t(load<uint32_t>(p)); }, 4, name);
        else {
            if (t.uint64_data_size() != n) throw mismatch(t.uint64_data_size());
            for (auto v : t.uint64_data()) d.ints.push_back(static_cast<int64_t>(v));
        }
        break;
    case TP::INT16:
        if (hasRaw) fromRaw<int64_t>(bytes, n, d.ints, [](const char* p) { return int64_t(load<int16_t>(p)); }, 2, name);
        else {
            if (t.int32_data_size() != n) throw mismatch(t.int32_data_size());
            d.ints.assign(t.int32_data().begin(), t.int32_data().end());
        }
        break;
    case TP::UINT16:
        if (hasRaw) fromRaw<int64_t>(bytes, n, d.ints, [](const char* p) { return int64_t(load<uint16_t>(p)); }, 2, name);
        else {
            if (t.int32_data_size() != n) throw mismatch(t.int32_data_size());
            d.ints.assign(t.int32_data().begin(), t.int32_data().end());
        }
        break;
    case TP::INT8:
        if (hasRaw) fromRaw<int64_t>(bytes, n, d.ints, [](const char* p) { return int64_t(load<int8_t>(p)); }, 1, name);
        else {
            if (t.int32_data_size() != n) throw mismatch(t.int32_data_size());
            d.ints.assign(t.int32_data().begin(), t.int32_data().end());
        }
        break;
    case TP::UINT8:
    case TP::BOOL:
        if (hasRaw) fromRaw<int64_t>(bytes, n, d.ints, [](const char* p) { return int64_t(load<uint8_t>(p)); }, 1, name);
        else {
            if (t.int32_data_size() != n) throw mismatch(t.int32_data_size());
            d.ints.assign(t.int32_data().begin(), t.int32_data().end());
        }
        break;
    default:
        throw ImportError("tensor '" + name + "' has an unsupported element type");
    }
    return d;
}

void tensorToProto(const TensorData& d, const std::string& name, TP& out) {
    out.Clear();
    out.set_name(name);
    out.set_data_type(d.isFloat() ? TP::FLOAT : dtypeToOnnx(d.dtype));
    for (auto v : d.shape) out.add_dims(v);
    std::string raw;
    if (d.isFloat()) {
        raw.resize(d.floats.size() * 4);
        if (!d.floats.empty()) std::memcpy(raw.data(), d.floats.data(), raw.size());
    } else {
        const int bytes = dtypeBytes(d.dtype);
        raw.resize(d.ints.size() * static_cast<size_t>(bytes));
        for (size_t i = 0; i < d.ints.size(); ++i) {
            const int64_t v = d.ints[i];
            switch (bytes) {
            case 1: { auto x = static_cast<int8_t>(v); std::memcpy(&raw[i], &x, 1); break; }
            case 2: { auto x = static_cast<int16_t>(v); std::memcpy(&raw[i * 2], &x, 2); break; }
            case 4: { auto x = static_cast<int32_t>(v); std::memcpy(&raw[i * 4], &x, 4); break; }
            default: std::memcpy(&raw[i * 8], &v, 8); break;
            }
        }
    }
    out.set_raw_data(std::move(raw));
}

}  // namespace autosplit::detail
