// Runs fn(i) for every i in [0, n) on every core (the calling thread one of them), indices
// claimed one at a time; returns when all are done. fn must not throw.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace autosplit {

template <class Fn>
void eachIndexOnEveryCore(size_t n, Fn&& fn) {
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t i = next++; i < n; i = next++) fn(i);
    };
    const size_t threads = std::min<size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
}

}  // namespace autosplit
