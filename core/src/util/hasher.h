// FNV-1a 64 content hashing of tensors and strings (cache keys, data and model hashes).
#pragma once

#include "autosplit/ir/graph.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace autosplit {

struct Hasher {
    uint64_t h = 1469598103934665603ull;
    void bytes(const void* p, size_t n) {
        const unsigned char* c = static_cast<const unsigned char*>(p);
        for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 1099511628211ull;
    }
    // Large arrays: fold 8-byte words (fast), then the tail.
    void words(const void* p, size_t n) {
        const char* c = static_cast<const char*>(p);
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            std::memcpy(&w, c + i, 8);
            h = (h ^ w) * 1099511628211ull;
        }
        bytes(c + i, n - i);
    }
    void str(const std::string& s) {
        const uint64_t n = s.size();
        bytes(&n, 8);
        bytes(s.data(), s.size());
    }
    void i64(int64_t v) { bytes(&v, 8); }
    void tensor(const TensorData& t) {
        i64(static_cast<int64_t>(t.dtype));
        i64(static_cast<int64_t>(t.shape.size()));
        for (auto d : t.shape) i64(d);
        words(t.floats.data(), t.floats.size() * sizeof(float));
        words(t.ints.data(), t.ints.size() * sizeof(int64_t));
    }
    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
        return buf;
    }
};

}  // namespace autosplit
