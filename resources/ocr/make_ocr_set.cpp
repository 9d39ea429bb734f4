// Labelled text-line images for the PP-OCR recognizer: seeded random strings drawn from the
// PP-OCR dictionary (only characters the font has), rendered with FreeType into 48-pixel-high
// PNGs, plus labels.txt ("FILE<TAB>TEXT", PaddleOCR's rec_gt format) and the preprocessing
// profile of the PP-OCR recognizer (keep aspect into 48x320, pad right, (x/255 - 0.5)/0.5, BGR).
//
//   make_ocr_set --dict ppocr_keys_v1.txt --out DIR [--count 100] [--seed 1]
//                [--font /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf] [--charset alnum|ascii|covered]
//                [--min-len 4] [--max-len 14] [--height 48] [--max-width 320]
//
// The same arguments give byte-identical files (mt19937, fixed layout); a different font version
// may change glyph shapes.
#include "autosplit/data/image.h"
#include "autosplit/util/errors.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace autosplit;

namespace {

std::u32string decodeUtf8(const std::string& s) {
    std::u32string out;
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        char32_t cp = len == 1 ? c : (c & (0x7f >> len));
        for (int k = 1; k < len && i + static_cast<size_t>(k) < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
        out.push_back(cp);
        i += static_cast<size_t>(len);
    }
    return out;
}

std::string encodeUtf8(char32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xc0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xe0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        s += static_cast<char>(0xf0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    }
    return s;
}

struct Options {
    std::string dict, out, font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", charset = "alnum";
    int count = 100, seed = 1, minLen = 4, maxLen = 14, height = 48, maxWidth = 320;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "error: %s\nusage: make_ocr_set --dict KEYS.txt --out DIR [--count N] [--seed S] [--font TTF]\n"
                 "                    [--charset alnum|ascii|covered] [--min-len N] [--max-len N] [--height 48] [--max-width 320]\n",
                 why.c_str());
    std::exit(2);
}

class Renderer {
public:
    Renderer(const std::string& font, int pixelHeight) {
        if (FT_Init_FreeType(&lib_)) throw Error("FreeType failed to initialize");
        if (FT_New_Face(lib_, font.c_str(), 0, &face_)) throw Error("cannot load the font '" + font + "'");
        if (FT_Set_Pixel_Sizes(face_, 0, static_cast<FT_UInt>(pixelHeight))) throw Error("font size not available");
    }
    ~Renderer() {
        if (face_) FT_Done_Face(face_);
        if (lib_) FT_Done_FreeType(lib_);
    }
    bool covers(char32_t cp) const { return FT_Get_Char_Index(face_, cp) != 0; }
    int ascender() const { return static_cast<int>(face_->size->metrics.ascender >> 6); }
    int descender() const { return static_cast<int>(-(face_->size->metrics.descender >> 6)); }

    int advance(const std::u32string& text) {
        int w = 0;
        for (char32_t cp : text) {
            if (FT_Load_Char(face_, cp, FT_LOAD_DEFAULT)) throw Error("cannot load a glyph");
            w += static_cast<int>(face_->glyph->advance.x >> 6);
        }
        return w;
    }

    // Dark text (ink) over a light background (paper), baseline at `baseline`.
    void draw(Image& img, const std::u32string& text, int x, int baseline, int ink) {
        for (char32_t cp : text) {
            if (FT_Load_Char(face_, cp, FT_LOAD_RENDER)) throw Error("cannot render a glyph");
            const FT_GlyphSlot g = face_->glyph;
            const FT_Bitmap& bm = g->bitmap;
            for (unsigned r = 0; r < bm.rows; ++r)
                for (unsigned c = 0; c < bm.width; ++c) {
                    const int px = x + g->bitmap_left + static_cast<int>(c), py = baseline - g->bitmap_top + static_cast<int>(r);
                    if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
                    const int a = bm.buffer[r * static_cast<unsigned>(bm.pitch) + c];
                    for (int ch = 0; ch < img.channels; ++ch) {
                        uint8_t& dst = img.pixels[(static_cast<size_t>(py) * img.width + px) * img.channels + ch];
                        dst = static_cast<uint8_t>((dst * (255 - a) + ink * a + 127) / 255);
                    }
                }
            x += static_cast<int>(g->advance.x >> 6);
        }
    }

private:
    FT_Library lib_ = nullptr;
    FT_Face face_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        auto num = [&]() {
            const std::string v = next();
            try {
                return std::stoi(v);
            } catch (const std::exception&) {
                usage(a + " needs a number");
            }
        };
        if (a == "--dict") o.dict = next();
        else if (a == "--out") o.out = next();
        else if (a == "--font") o.font = next();
        else if (a == "--charset") o.charset = next();
        else if (a == "--count") o.count = num();
        else if (a == "--seed") o.seed = num();
        else if (a == "--min-len") o.minLen = num();
        else if (a == "--max-len") o.maxLen = num();
        else if (a == "--height") o.height = num();
        else if (a == "--max-width") o.maxWidth = num();
        else usage("unknown argument " + a);
    }
    if (o.dict.empty() || o.out.empty()) usage("--dict and --out are required");
    if (o.count < 1 || o.minLen < 1 || o.maxLen < o.minLen || o.height < 16 || o.maxWidth < o.height)
        usage("invalid count, lengths or size");
    if (o.charset != "alnum" && o.charset != "ascii" && o.charset != "covered") usage("--charset is alnum, ascii or covered");
    try {
        std::ifstream df(o.dict, std::ios::binary);
        if (!df) throw Error("cannot read the dictionary '" + o.dict + "'");
        // Text height about 2/3 of the line, as in PP-OCR's training crops.
        Renderer font(o.font, o.height * 2 / 3);
        std::vector<char32_t> pool;
        std::string line;
        while (std::getline(df, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const std::u32string cps = decodeUtf8(line);
            if (cps.size() != 1) continue;
            const char32_t cp = cps[0];
            if (cp <= 0x20 || !font.covers(cp)) continue;
            if (o.charset != "covered" && cp > 0x7e) continue;
            if (o.charset == "alnum" && !((cp >= U'0' && cp <= U'9') || (cp >= U'A' && cp <= U'Z') || (cp >= U'a' && cp <= U'z'))) continue;
            pool.push_back(cp);
        }
        if (pool.size() < 10) throw Error("fewer than 10 dictionary characters are covered by the font");

        std::filesystem::create_directories(o.out);
        std::mt19937 rng(static_cast<uint32_t>(o.seed));
        auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
        std::string labels;
        const int baseline = (o.height + font.ascender() - font.descender()) / 2;
        for (int k = 0; k < o.count; ++k) {
            // Words of 2..8 characters separated by single spaces, within the maximum width.
            std::u32string text;
            const int len = uniform(o.minLen, o.maxLen);
            int word = uniform(2, 8);
            while (static_cast<int>(text.size()) < len) {
                if (word == 0 && static_cast<int>(text.size()) + 2 <= len) {
                    text.push_back(U' ');
                    word = uniform(2, 8);
                }
                text.push_back(pool[static_cast<size_t>(uniform(0, static_cast<int>(pool.size()) - 1))]);
                --word;
            }
            const int margin = uniform(3, 10);
            while (font.advance(text) + 2 * margin > o.maxWidth && text.size() > 1) text.pop_back();
            while (!text.empty() && text.back() == U' ') text.pop_back();
            const int width = font.advance(text) + 2 * margin;
            Image img;
            img.width = width;
            img.height = o.height;
            img.channels = 3;
            const int paper = uniform(200, 255), ink = uniform(0, 60);
            img.pixels.assign(static_cast<size_t>(width) * o.height * 3, static_cast<uint8_t>(paper));
            font.draw(img, text, margin, baseline + uniform(-2, 2), ink);
            char name[32];
            std::snprintf(name, sizeof name, "line_%05d.png", k);
            writePng((std::filesystem::path(o.out) / name).string(), img);
            std::string utf8;
            for (char32_t cp : text) utf8 += encodeUtf8(cp);
            labels += std::string(name) + "\t" + utf8 + "\n";
        }
        std::ofstream lf(std::filesystem::path(o.out) / "labels.txt", std::ios::binary | std::ios::trunc);
        lf << labels;
        std::ofstream pf(std::filesystem::path(o.out) / "preprocess.json", std::ios::binary | std::ios::trunc);
        pf << "{\"height\": " << o.height << ", \"width\": " << o.maxWidth
           << ", \"resize\": \"keep-aspect\", \"pad_align\": \"top-left\", \"pad_value\": 0,\n"
              " \"channel_order\": \"BGR\", \"scale\": 0.00392156862745098, \"mean\": 0.5, \"std\": 0.5}\n";
        if (!lf || !pf) throw Error("cannot write into '" + o.out + "'");
        std::printf("%d text lines (%zu characters in the pool) written to %s\n", o.count, pool.size(), o.out.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
