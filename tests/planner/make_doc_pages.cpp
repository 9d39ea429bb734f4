// Page-like images for the PP-OCR text detector (no network, no dataset): seeded random
// documents — a title, paragraphs of random words in several sizes and inks, on light paper with
// a little noise — rendered with FreeType, plus the PP-OCR det preprocessing profile
// (preprocess.json: BGR, pixels / 255, ImageNet mean/std, NCHW, as PaddleOCR's NormalizeImage).
//
//   make_doc_pages --out DIR [--count 8] [--seed 1] [--width 640] [--height 640]
//                  [--font /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]
//
// Then: autosplit plan .models/ch_PP-OCRv4_det_infer.onnx --input x=1x3x640x640 --data DIR
// The same arguments give byte-identical files (mt19937, fixed layout) for one font file.
#include "autosplit/data/image.h"
#include "autosplit/util/errors.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace autosplit;

namespace {

struct Options {
    std::string out, font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    int count = 8, seed = 1, width = 640, height = 640;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "error: %s\nusage: make_doc_pages --out DIR [--count 8] [--seed 1] [--width 640] [--height 640] [--font TTF]\n",
                 why.c_str());
    std::exit(2);
}

class Face {
public:
    explicit Face(const std::string& path) {
        if (FT_Init_FreeType(&lib_)) throw Error("FreeType failed to initialize");
        if (FT_New_Face(lib_, path.c_str(), 0, &face_)) {
            FT_Done_FreeType(lib_);
            throw Error(path + ": cannot open the font");
        }
    }
    ~Face() {
        FT_Done_Face(face_);
        FT_Done_FreeType(lib_);
    }
    Face(const Face&) = delete;
    Face& operator=(const Face&) = delete;

    // Draws `text` with its baseline at (x, y), `px` pixels high, ink `rgb`; returns the advance.
    int draw(Image& img, const std::string& text, int x, int y, int px, const uint8_t rgb[3]) {
        FT_Set_Pixel_Sizes(face_, 0, static_cast<FT_UInt>(px));
        int pen = x;
        for (char ch : text) {
            if (FT_Load_Char(face_, static_cast<FT_ULong>(static_cast<unsigned char>(ch)), FT_LOAD_RENDER)) continue;
            const FT_GlyphSlot g = face_->glyph;
            const FT_Bitmap& bm = g->bitmap;
            for (unsigned r = 0; r < bm.rows; ++r)
                for (unsigned c = 0; c < bm.width; ++c) {
                    const int px2 = pen + g->bitmap_left + static_cast<int>(c);
                    const int py = y - g->bitmap_top + static_cast<int>(r);
                    if (px2 < 0 || py < 0 || px2 >= img.width || py >= img.height) continue;
                    const float a = bm.buffer[r * static_cast<unsigned>(bm.pitch) + c] / 255.f;
                    uint8_t* p = &img.pixels[(static_cast<size_t>(py) * static_cast<size_t>(img.width) + static_cast<size_t>(px2)) * 3];
                    for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(p[k] * (1 - a) + rgb[k] * a + 0.5f);
                }
            pen += static_cast<int>(g->advance.x >> 6);
        }
        return pen - x;
    }
    int width(const std::string& text, int px) {
        FT_Set_Pixel_Sizes(face_, 0, static_cast<FT_UInt>(px));
        int w = 0;
        for (char ch : text)
            if (!FT_Load_Char(face_, static_cast<FT_ULong>(static_cast<unsigned char>(ch)), FT_LOAD_DEFAULT))
                w += static_cast<int>(face_->glyph->advance.x >> 6);
        return w;
    }

private:
    FT_Library lib_ = nullptr;
    FT_Face face_ = nullptr;
};

std::string randomWord(std::mt19937& rng) {
    static const char* lower = "abcdefghijklmnopqrstuvwxyz";
    static const char* upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static const char* digits = "0123456789";
    std::uniform_int_distribution<int> len(2, 9), kind(0, 9), li(0, 25), di(0, 9);
    const int n = len(rng);
    const int k = kind(rng);
    std::string w;
    for (int i = 0; i < n; ++i) {
        if (k == 0) w += digits[di(rng)];                       // a number
        else if (k == 1 || (k == 2 && i == 0)) w += upper[li(rng)];  // upper case / capitalized
        else w += lower[li(rng)];
    }
    if (k == 3) w += (rng() % 2) ? "," : ".";
    return w;
}

Image page(Face& face, std::mt19937& rng, int W, int H) {
    Image img;
    img.width = W;
    img.height = H;
    img.channels = 3;
    img.pixels.resize(static_cast<size_t>(W) * static_cast<size_t>(H) * 3);
    // Paper: light, slightly tinted, with a vertical shading gradient.
    std::uniform_int_distribution<int> paper(225, 252), tint(-6, 6);
    const int base = paper(rng), tr = tint(rng), tb = tint(rng);
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            const int shade = base - 10 * y / H;
            uint8_t* p = &img.pixels[(static_cast<size_t>(y) * static_cast<size_t>(W) + static_cast<size_t>(x)) * 3];
            p[0] = static_cast<uint8_t>(std::clamp(shade + tr, 0, 255));
            p[1] = static_cast<uint8_t>(std::clamp(shade, 0, 255));
            p[2] = static_cast<uint8_t>(std::clamp(shade + tb, 0, 255));
        }
    std::uniform_int_distribution<int> margin(W / 20, W / 8), size(14, 30), titleSize(32, 48), ink(0, 70), blue(0, 4);
    const int left = margin(rng), right = W - margin(rng);
    int y = margin(rng) + 30;
    auto inkColor = [&](uint8_t rgb[3]) {
        const int v = ink(rng);
        rgb[0] = rgb[1] = rgb[2] = static_cast<uint8_t>(v);
        if (blue(rng) == 0) rgb[2] = static_cast<uint8_t>(std::min(255, v + 120));  // a blue-ink line now and then
    };
    // Title.
    {
        uint8_t rgb[3];
        inkColor(rgb);
        const int px = titleSize(rng);
        std::string t;
        for (int i = 0; i < 2 + int(rng() % 3); ++i) t += (i ? " " : "") + randomWord(rng);
        face.draw(img, t, left + int(rng() % 40), y, px, rgb);
        y += px + px / 2;
    }
    // Paragraphs of wrapped lines, each in its own size and ink, some indented, some short.
    while (y < H - 20) {
        const int px = size(rng);
        uint8_t rgb[3];
        inkColor(rgb);
        const int lines = 1 + int(rng() % 6);
        const int lead = px + px / 3 + int(rng() % (px / 2 + 1));
        for (int l = 0; l < lines && y + px < H - 10; ++l) {
            int x = left + (l == 0 && rng() % 2 ? 2 * px : 0);
            const int end = l == lines - 1 ? left + int((right - left) * (0.3 + 0.7 * (rng() % 100) / 100.0)) : right;
            y += lead;
            while (true) {
                const std::string w = randomWord(rng);
                const int ww = face.width(w, px);
                if (x + ww > end) break;
                x += face.draw(img, w, x, y, px, rgb) + face.width(" ", px);
            }
        }
        y += lead / 2 + int(rng() % (2 * px + 1));
    }
    // Sensor-like noise.
    std::normal_distribution<float> noise(0.f, 3.f);
    for (auto& v : img.pixels) v = static_cast<uint8_t>(std::clamp(static_cast<float>(v) + noise(rng), 0.f, 255.f));
    return img;
}

int parseInt(const char* s, const std::string& option) {
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    if (!end || *end || v < 1 || v > 100000) usage(option + " needs a positive whole number");
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage(a + " needs a value");
        const char* v = argv[++i];
        if (a == "--out") o.out = v;
        else if (a == "--font") o.font = v;
        else if (a == "--count") o.count = parseInt(v, a);
        else if (a == "--seed") o.seed = parseInt(v, a);
        else if (a == "--width") o.width = parseInt(v, a);
        else if (a == "--height") o.height = parseInt(v, a);
        else usage("unknown option " + a);
    }
    if (o.out.empty()) usage("--out DIR is required");
    if (o.width < 64 || o.height < 64) usage("pages need at least 64x64 pixels");
    try {
        std::filesystem::create_directories(o.out);
        Face face(o.font);
        std::mt19937 rng(static_cast<uint32_t>(o.seed));
        for (int i = 0; i < o.count; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "page_%03d.png", i);
            writePng((std::filesystem::path(o.out) / name).string(), page(face, rng, o.width, o.height));
        }
        std::ofstream prof(std::filesystem::path(o.out) / "preprocess.json");
        prof << "{\"width\": " << o.width << ", \"height\": " << o.height
             << ", \"resize\": \"stretch\", \"channel_order\": \"BGR\", \"scale\": 0.00392156862745098,\n"
                " \"mean\": [0.485, 0.456, 0.406], \"std\": [0.229, 0.224, 0.225], \"layout\": \"NCHW\"}\n";
        if (!prof) throw Error(o.out + "/preprocess.json: cannot write");
        std::printf("wrote %d pages (%dx%d) and preprocess.json to %s\n", o.count, o.width, o.height, o.out.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
