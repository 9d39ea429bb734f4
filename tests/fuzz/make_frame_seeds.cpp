// Writes the seed corpus of fuzz_frame_reader: good frames of frame_craft.h's seeded generator,
// each as one file "seed-N" = control byte + frame bytes (control varies the chunk size and
// whether CRCs are re-sealed; see fuzz_frame_reader.cpp).
//   make_frame_seeds DIR [COUNT]
#include "frame_craft.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

using namespace autosplit::deploy;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: make_frame_seeds DIR [COUNT]\n");
        return 2;
    }
    const int count = argc > 2 ? std::atoi(argv[2]) : 32;
    std::mt19937_64 rng(7);
    for (int i = 0; i < count; ++i) {
        const Frame f = craft::randomFrame(rng);
        const auto bytes = encodeFrame(f);
        const std::string path = std::string(argv[1]) + "/seed-" + std::to_string(i);
        FILE* out = std::fopen(path.c_str(), "wb");
        if (!out) {
            std::fprintf(stderr, "error: cannot write %s\n", path.c_str());
            return 1;
        }
        const uint8_t control = static_cast<uint8_t>((i % 2) | ((i * 13 % 128) << 1));
        std::fwrite(&control, 1, 1, out);
        std::fwrite(bytes.data(), 1, bytes.size(), out);
        std::fclose(out);
    }
    std::printf("wrote %d seeds to %s\n", count, argv[1]);
    return 0;
}
