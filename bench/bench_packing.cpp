// b-bit code packing throughput (deploy/packing.h), one thread: pack and unpack of ~64 M codes
// for every b = 1..8, best of R runs each, in G codes/s. Reference in the same run: memcpy of
// the same 64 M code bytes (what b = 8 amounts to). Targets (issue 13): 4-bit ≥ 4 G codes/s,
// every b ≥ 1 G codes/s per core, for pack and unpack; the run exits 1 on a MISS.
//   bench_packing [--codes N] [--runs R]
#include "autosplit/deploy/packing.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace autosplit::deploy;
using Clock = std::chrono::steady_clock;

namespace {

template <class F>
double bestSeconds(int runs, F&& f) {
    double best = 1e300;
    for (int r = 0; r < runs; ++r) {
        const auto t0 = Clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    size_t count = size_t(64) << 20;
    int runs = 7;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--codes" && i + 1 < argc) count = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench_packing [--codes N] [--runs R]\n");
            return 2;
        }
    }
    if (count == 0 || runs < 1) {
        std::fprintf(stderr, "error: --codes and --runs must be positive\n");
        return 2;
    }

    std::vector<uint8_t> codes(count), back(count), packed(count);
    std::mt19937 rng(1);
    for (auto& c : codes) c = static_cast<uint8_t>(rng());
    std::memset(back.data(), 0, count);  // touch every page before timing
    std::memset(packed.data(), 0, count);

    const double memcpyS = bestSeconds(runs, [&] { std::memcpy(back.data(), codes.data(), count); });
    const double memcpyG = count / memcpyS / 1e9;
    std::printf("b-bit packing, 1 thread, %zu codes, best of %d runs; reference: memcpy of the %zu code bytes\n\n",
                count, runs, count);
    std::printf("| b | pack G codes/s | pack / memcpy | unpack G codes/s | unpack / memcpy | target | pack | unpack |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    std::printf("| memcpy | %.2f | 1.00 | %.2f | 1.00 | — | | |\n", memcpyG, memcpyG);

    bool allPass = true;
    for (int b = 1; b <= 8; ++b) {
        const double packS = bestSeconds(runs, [&] { packCodes(codes.data(), count, b, packed.data()); });
        const double unpackS = bestSeconds(runs, [&] { unpackCodes(packed.data(), count, b, back.data()); });
        // The timed buffers must round-trip (keeps the work observable and checks it).
        const uint8_t mask = static_cast<uint8_t>((1u << b) - 1);
        for (size_t i = 0; i < count; i += 4093)
            if (back[i] != (codes[i] & mask)) {
                std::fprintf(stderr, "error: b=%d code %zu did not round-trip\n", b, i);
                return 1;
            }
        const double packG = count / packS / 1e9, unpackG = count / unpackS / 1e9;
        const double target = b == 4 ? 4.0 : 1.0;
        const bool packOk = packG >= target, unpackOk = unpackG >= target;
        allPass = allPass && packOk && unpackOk;
        std::printf("| %d | %.2f | %.2f | %.2f | %.2f | ≥ %.0f | %s | %s |\n", b, packG, packG / memcpyG, unpackG,
                    unpackG / memcpyG, target, packOk ? "PASS" : "MISS", unpackOk ? "PASS" : "MISS");
    }
    std::printf("\n%s\n", allPass ? "all targets met" : "some targets MISSED");
    return allPass ? 0 : 1;
}
