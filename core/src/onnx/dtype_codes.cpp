#include "onnx/dtype_codes.h"

#include <array>

namespace autosplit::detail {

namespace {

constexpr std::array<OnnxDTypeCode, 13> kCodes = {{
    {1, DType::Float32, true, "float"},
    {2, DType::UInt8, true, "uint8"},
    {3, DType::Int8, true, "int8"},
    {4, DType::Int16, false, "uint16"},
    {5, DType::Int16, true, "int16"},
    {6, DType::Int32, true, "int32"},
    {7, DType::Int64, true, "int64"},
    {9, DType::Bool, true, "bool"},
    {10, DType::Float16, true, "float16"},
    {11, DType::Double, true, "double"},
    {12, DType::Int32, false, "uint32"},
    {13, DType::Int64, false, "uint64"},
    {16, DType::Float16, false, "bfloat16"},
}};

const OnnxDTypeCode* find(int64_t code) {
    for (const auto& c : kCodes)
        if (c.code == code) return &c;
    return nullptr;
}

}  // namespace

std::span<const OnnxDTypeCode> onnxDTypeCodes() { return kCodes; }

DType dtypeFromOnnx(int64_t code) {
    const OnnxDTypeCode* c = find(code);
    return c ? c->dtype : DType::Other;
}

int dtypeToOnnx(DType t) {
    for (const auto& c : kCodes)
        if (c.exact && c.dtype == t) return c.code;
    return 0;
}

std::optional<DType> exactDTypeFromOnnx(int64_t code) {
    const OnnxDTypeCode* c = find(code);
    if (!c || !c->exact) return std::nullopt;
    return c->dtype;
}

}  // namespace autosplit::detail
