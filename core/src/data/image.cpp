#include "autosplit/data/image.h"

#include "autosplit/util/file_io.h"

#include "autosplit/util/errors.h"
#include "autosplit/util/each_index.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

namespace fs = std::filesystem;

namespace autosplit {

// ---------------------------------------------------------------- decoding

namespace {

Image decodePng(const std::string& bytes, const std::string& name) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
        throw Error("'" + name + "' is not a readable PNG: " + png.message);
    const bool color = (png.format & PNG_FORMAT_FLAG_COLOR) != 0;
    png.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;  // drops alpha, 16-bit -> 8-bit
    Image img;
    img.width = static_cast<int>(png.width);
    img.height = static_cast<int>(png.height);
    img.channels = color ? 3 : 1;
    img.pixels.resize(PNG_IMAGE_SIZE(png));
    if (!png_image_finish_read(&png, nullptr, img.pixels.data(), 0, nullptr)) {
        const std::string why = png.message;
        png_image_free(&png);
        throw Error("'" + name + "' is a corrupt PNG: " + why);
    }
    return img;
}

// libjpeg reports fatal errors through error_exit, which must not return: jump back to the
// decoder. Everything that must survive the jump lives in this heap object.
struct JpegState {
    jpeg_decompress_struct cinfo;
    jpeg_error_mgr err;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX] = {0};
    Image img;
};

void jpegErrorExit(j_common_ptr cinfo) {
    auto* st = reinterpret_cast<JpegState*>(cinfo->client_data);
    (*cinfo->err->format_message)(cinfo, st->message);
    std::longjmp(st->jump, 1);
}

// Count warnings (level -1: e.g. premature end of data) without printing them.
void jpegSilence(j_common_ptr cinfo, int level) {
    if (level < 0) cinfo->err->num_warnings++;
}

Image decodeJpeg(const std::string& bytes, const std::string& name) {
    auto st = std::make_unique<JpegState>();
    JpegState* s = st.get();
    s->cinfo.err = jpeg_std_error(&s->err);
    s->err.error_exit = jpegErrorExit;
    s->err.emit_message = jpegSilence;  // warnings (e.g. premature end) are checked below
    s->cinfo.client_data = s;
    jpeg_create_decompress(&s->cinfo);
    if (setjmp(s->jump)) {
        jpeg_destroy_decompress(&s->cinfo);
        throw Error("'" + name + "' is a corrupt JPEG: " + s->message);
    }
    jpeg_mem_src(&s->cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&s->cinfo, TRUE);
    const J_COLOR_SPACE cs = s->cinfo.jpeg_color_space;
    if (cs == JCS_CMYK || cs == JCS_YCCK) {
        jpeg_destroy_decompress(&s->cinfo);
        throw Error("'" + name + "' is a CMYK JPEG; convert it to RGB");
    }
    s->cinfo.out_color_space = cs == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&s->cinfo);
    s->img.width = static_cast<int>(s->cinfo.output_width);
    s->img.height = static_cast<int>(s->cinfo.output_height);
    s->img.channels = s->cinfo.output_components;
    s->img.pixels.resize(static_cast<size_t>(s->img.width) * s->img.height * s->img.channels);
    while (s->cinfo.output_scanline < s->cinfo.output_height) {
        JSAMPROW row = s->img.pixels.data() + static_cast<size_t>(s->cinfo.output_scanline) * s->img.width * s->img.channels;
        jpeg_read_scanlines(&s->cinfo, &row, 1);
    }
    // libjpeg pads a truncated stream with grey and only warns: treat that as corrupt.
    const bool truncated = s->err.num_warnings > 0;
    if (!truncated) jpeg_finish_decompress(&s->cinfo);
    jpeg_destroy_decompress(&s->cinfo);
    if (truncated) throw Error("'" + name + "' is a corrupt JPEG: truncated or damaged data");
    return std::move(s->img);
}

}  // namespace

Image decodeImage(const std::string& bytes, const std::string& name) {
    if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return decodePng(bytes, name);
    if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xff && static_cast<unsigned char>(bytes[1]) == 0xd8 &&
        static_cast<unsigned char>(bytes[2]) == 0xff)
        return decodeJpeg(bytes, name);
    throw Error("'" + name + "' is neither a PNG nor a JPEG image");
}

Image readImage(const std::string& path) { return decodeImage(readWholeFile(path), path); }

void writePng(const std::string& path, const Image& img) {
    if ((img.channels != 1 && img.channels != 3) || img.width <= 0 || img.height <= 0 ||
        img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
        throw Error("cannot write '" + path + "': not an 8-bit gray or RGB image");
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(img.width);
    png.height = static_cast<png_uint_32>(img.height);
    png.format = img.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    if (!png_image_write_to_file(&png, tmp.c_str(), 0, img.pixels.data(), 0, nullptr)) {
        std::error_code ec;
        fs::remove(tmp, ec);
        throw Error("cannot write '" + path + "': " + png.message);
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw Error("cannot write '" + path + "'");
    }
}

// ---------------------------------------------------------------- profile

PreprocessProfile parsePreprocessProfile(const std::string& text, const std::string& name) {
    PreprocessProfile p;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error("preprocessing profile '" + name + "' is not valid JSON: " + e.what());
    }
    if (!j.is_object()) throw Error("preprocessing profile '" + name + "' must be a JSON object");
    auto bad = [&](const std::string& key, const std::string& why) {
        return Error("preprocessing profile '" + name + "': \"" + key + "\" " + why);
    };
    auto oneOf = [&](const std::string& key, const std::string& v, std::initializer_list<const char*> allowed) {
        std::string list;
        for (const char* a : allowed) {
            if (v == a) return v;
            list += (list.empty() ? "" : ", ") + std::string(a);
        }
        throw bad(key, "must be one of " + list + ", not '" + v + "'");
    };
    try {
        for (const auto& [key, v] : j.items()) {
            if (key == "width" || key == "height" || key == "resize_short") {
                const int x = v.get<int>();
                if (x < 1 || x > 16384) throw bad(key, "must be between 1 and 16384");
                (key == "width" ? p.width : key == "height" ? p.height : p.resizeShort) = x;
            } else if (key == "resize") {
                p.resize = oneOf(key, v.get<std::string>(), {"stretch", "keep-aspect", "crop", "none"});
            } else if (key == "pad_align") {
                p.padAlign = oneOf(key, v.get<std::string>(), {"center", "top-left"});
            } else if (key == "pad_value") {
                p.padValue = v.get<float>();
            } else if (key == "channel_order") {
                p.channelOrder = oneOf(key, v.get<std::string>(), {"RGB", "BGR", "GRAY"});
            } else if (key == "gray_to_rgb") {
                p.grayToRgb = v.get<bool>();
            } else if (key == "scale") {
                p.scale = v.get<float>();
                if (!(p.scale > 0) || !std::isfinite(p.scale)) throw bad(key, "must be a positive number");
            } else if (key == "mean" || key == "std") {
                std::vector<float> x = v.is_array() ? v.get<std::vector<float>>() : std::vector<float>{v.get<float>()};
                if (x.empty() || x.size() > 4) throw bad(key, "needs 1 to 4 values");
                for (float f : x)
                    if (!std::isfinite(f) || (key == "std" && !(f > 0))) throw bad(key, "has an invalid value");
                (key == "mean" ? p.mean : p.std) = std::move(x);
            } else if (key == "layout") {
                p.layout = oneOf(key, v.get<std::string>(), {"NCHW", "NHWC"});
            } else {
                throw bad(key, "is not a known key (width, height, resize, resize_short, pad_align, pad_value, "
                               "channel_order, gray_to_rgb, scale, mean, std, layout)");
            }
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error("preprocessing profile '" + name + "': " + e.what());
    }
    return p;
}

PreprocessProfile loadPreprocessProfile(const std::string& path) { return parsePreprocessProfile(readWholeFile(path), path); }

// ---------------------------------------------------------------- image -> tensor

namespace {

// Bilinear resampling with half-pixel centres (OpenCV INTER_LINEAR / ONNX Resize half_pixel):
// the source position of destination pixel d is (d + 0.5) * scale - 0.5 + offset, clamped.
struct Resampler {
    float sx, sy;  // source pixels per destination pixel
    float ox, oy;  // source offset (crop)
};

// std::round (half away from zero) for v >= 0, inlined: trunc is one instruction, the fraction
// v - trunc(v) is exact.
inline float roundNonNegative(float v) {
    const float t = std::trunc(v);
    return v - t >= 0.5f ? t + 1.f : t;
}

}  // namespace

TensorData imageToTensor(const Image& img, const PreprocessProfile& p, const std::vector<int64_t>& shape,
                         const std::string& name) {
    const bool nchw = p.layout == "NCHW";
    if (shape.size() != 4)
        throw Error("'" + name + "': image inputs need a rank-4 model input, this one has rank " + std::to_string(shape.size()));
    if (shape[0] > 1) throw Error("'" + name + "': image inputs need batch 1, the model input has " + std::to_string(shape[0]));
    const int64_t mc = nchw ? shape[1] : shape[3];
    const int64_t mh = nchw ? shape[2] : shape[1];
    const int64_t mw = nchw ? shape[3] : shape[2];
    const int C = p.channelOrder == "GRAY" ? 1 : 3;
    if (mc >= 0 && mc != C)
        throw Error("'" + name + "': the model input has " + std::to_string(mc) + " channels, the profile's channel order " +
                    p.channelOrder + " gives " + std::to_string(C));
    if (img.channels != 1 && img.channels != 3) throw Error("'" + name + "': unsupported channel count " + std::to_string(img.channels));
    if (img.channels != C && !(img.channels == 1 && C == 3 && p.grayToRgb))
        throw Error("'" + name + "' has " + std::to_string(img.channels) + " channel(s) (" +
                    (img.channels == 1 ? "gray" : "color") + "), the model needs " + std::to_string(C) +
                    (img.channels == 1 ? " (set \"gray_to_rgb\": true in the profile to replicate gray)" : ""));
    const int H = p.height > 0 ? p.height : static_cast<int>(mh);
    const int W = p.width > 0 ? p.width : static_cast<int>(mw);
    if (H <= 0 || W <= 0) throw Error("'" + name + "': the model input size is not fixed; give width and height in the profile");
    if ((mh >= 0 && mh != H) || (mw >= 0 && mw != W))
        throw Error("'" + name + "': the profile's size " + std::to_string(W) + "x" + std::to_string(H) +
                    " does not match the model input " + std::to_string(mw) + "x" + std::to_string(mh));
    if (img.width < 1 || img.height < 1) throw Error("'" + name + "' is empty");
    if (p.resize == "none" && (img.width != W || img.height != H))
        throw Error("'" + name + "' is " + std::to_string(img.width) + "x" + std::to_string(img.height) + ", the model needs " +
                    std::to_string(W) + "x" + std::to_string(H) + " (resize \"none\")");

    // Destination region [x0, x0+rw) x [y0, y0+rh) filled from the source through a resampler.
    int rw = W, rh = H, x0 = 0, y0 = 0;
    Resampler rs{static_cast<float>(img.width) / W, static_cast<float>(img.height) / H, 0.f, 0.f};
    if (p.resize == "keep-aspect") {
        const double f = std::min(static_cast<double>(W) / img.width, static_cast<double>(H) / img.height);
        rw = std::clamp(static_cast<int>(std::ceil(img.width * f - 1e-6)), 1, W);
        rh = std::clamp(static_cast<int>(std::ceil(img.height * f - 1e-6)), 1, H);
        if (p.padAlign == "center") x0 = (W - rw) / 2, y0 = (H - rh) / 2;
        rs.sx = static_cast<float>(img.width) / rw;
        rs.sy = static_cast<float>(img.height) / rh;
    } else if (p.resize == "crop") {
        const int shortSide = p.resizeShort > 0 ? p.resizeShort : std::min(W, H);
        const double f = static_cast<double>(shortSide) / std::min(img.width, img.height);
        const double sw = img.width * f, sh = img.height * f;  // scaled size
        if (sw + 1e-6 < W || sh + 1e-6 < H)
            throw Error("'" + name + "': resize_short " + std::to_string(shortSide) + " is smaller than the crop " +
                        std::to_string(W) + "x" + std::to_string(H));
        rs.sx = rs.sy = static_cast<float>(1.0 / f);
        rs.ox = static_cast<float>((sw - W) / 2 / f);
        rs.oy = static_cast<float>((sh - H) / 2 / f);
    }
    const auto meanOf = [&](int c) { return p.mean.size() == 1 ? p.mean[0] : p.mean[std::min<size_t>(c, p.mean.size() - 1)]; };
    const auto stdOf = [&](int c) { return p.std.size() == 1 ? p.std[0] : p.std[std::min<size_t>(c, p.std.size() - 1)]; };
    if ((p.mean.size() != 1 && static_cast<int>(p.mean.size()) != C) || (p.std.size() != 1 && static_cast<int>(p.std.size()) != C))
        throw Error("'" + name + "': the profile's mean/std need 1 or " + std::to_string(C) + " values");

    // The resampling coordinates depend on x or y alone: computed once per column and per row
    // (the same expressions per pixel, so the same values).
    struct Tap {
        int i0, i1;
        float a;
    };
    auto taps = [](int n, float scale, float offset, int size) {
        std::vector<Tap> t(static_cast<size_t>(n));
        for (int d = 0; d < n; ++d) {
            const float f = std::clamp((static_cast<float>(d) + 0.5f) * scale - 0.5f + offset, 0.f, static_cast<float>(size - 1));
            const int i0 = static_cast<int>(f);
            t[static_cast<size_t>(d)] = {i0, std::min(i0 + 1, size - 1), f - static_cast<float>(i0)};
        }
        return t;
    };
    const std::vector<Tap> tx = taps(rw, rs.sx, rs.ox, img.width), ty = taps(rh, rs.sy, rs.oy, img.height);
    TensorData t;
    t.shape = nchw ? std::vector<int64_t>{1, C, H, W} : std::vector<int64_t>{1, H, W, C};
    t.floats.assign(static_cast<size_t>(C) * H * W, p.padValue);
    const size_t ic = static_cast<size_t>(img.channels);
    // Every tap the pixel itself with weight 0 on its neighbour (same size, no offset): the
    // bilinear value is the pixel exactly (and already whole), so it is read directly.
    const auto isIdentity = [](const std::vector<Tap>& along) {
        for (size_t d = 0; d < along.size(); ++d)
            if (along[d].i0 != static_cast<int>(d) || along[d].a != 0.f) return false;
        return true;
    };
    const bool identity = isIdentity(tx) && isIdentity(ty);
    const auto index = [&](int c, int y, int x) {
        return nchw ? (static_cast<size_t>(c) * H + (y + y0)) * W + (x + x0) : (static_cast<size_t>(y + y0) * W + (x + x0)) * C + c;
    };
    for (int c = 0; c < C; ++c) {
        // Source channel: BGR reverses RGB; gray replicated when gray_to_rgb.
        const int sc = img.channels == 1 ? 0 : (p.channelOrder == "BGR" ? 2 - c : c);
        const float m = meanOf(c), sd = stdOf(c);
        for (int y = 0; y < rh; ++y) {
            const Tap& yt = ty[static_cast<size_t>(y)];
            const auto* r0 = img.pixels.data() + static_cast<size_t>(yt.i0) * img.width * ic + sc;
            const auto* r1 = img.pixels.data() + static_cast<size_t>(yt.i1) * img.width * ic + sc;
            const float ay = yt.a;
            if (identity) {
                for (int x = 0; x < rw; ++x) t.floats[index(c, y, x)] = (static_cast<float>(r0[static_cast<size_t>(x) * ic]) * p.scale - m) / sd;
                continue;
            }
            for (int x = 0; x < rw; ++x) {
                const Tap& xt = tx[static_cast<size_t>(x)];
                const size_t a0 = static_cast<size_t>(xt.i0) * ic, a1 = static_cast<size_t>(xt.i1) * ic;
                const float ax = xt.a;
                const float sample = (1 - ay) * ((1 - ax) * static_cast<float>(r0[a0]) + ax * static_cast<float>(r0[a1])) +
                                     ay * ((1 - ax) * static_cast<float>(r1[a0]) + ax * static_cast<float>(r1[a1]));
                // The sensor delivers 8-bit pixels at the model's size: resampled values rounded.
                const float px = std::clamp(roundNonNegative(sample), 0.f, 255.f);
                t.floats[index(c, y, x)] = (px * p.scale - m) / sd;
            }
        }
    }
    return t;
}

// ---------------------------------------------------------------- folders

namespace {
bool isImageName(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}
}  // namespace

bool folderHasImages(const std::string& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file() && isImageName(e.path())) return true;
    return false;
}

Dataset loadImageFolder(const Graph& g, const std::string& dir, const PreprocessProfile& p) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error("image folder '" + dir + "' does not exist");
    if (g.inputs.size() != 1)
        throw Error("image folders need a model with one input, this one has " + std::to_string(g.inputs.size()));
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file() && isImageName(e.path())) files.push_back(e.path());
    if (files.empty()) throw Error("image folder '" + dir + "' holds no .png/.jpg/.jpeg files");
    std::sort(files.begin(), files.end());
    const Tensor& in = g.tensors[g.inputs[0]];
    if (!isFloating(in.dtype)) throw Error("input '" + in.name + "' is not float; images need a float input");
    Dataset set;
    // Decoded and resampled on every core (files are independent); the samples keep the files'
    // order, and the first failing file in that order is the one reported.
    set.samples.resize(files.size());
    set.sampleHashes.resize(files.size());
    std::vector<std::exception_ptr> failed(files.size());
    eachIndexOnEveryCore(files.size(), [&](size_t i) {
        try {
            std::vector<TensorData> s;
            s.push_back(imageToTensor(readImage(files[i].string()), p, in.shape, files[i].string()));
            validateSample(g, s, files[i].string());
            set.sampleHashes[i] = hashSample(s);
            set.samples[i] = std::move(s);
        } catch (...) {
            failed[i] = std::current_exception();
        }
    });
    for (const auto& e : failed)
        if (e) std::rethrow_exception(e);
    for (const auto& f : files) set.sampleNames.push_back(f.filename().string());
    set.description = dir + ": " + std::to_string(files.size()) + " images";
    set.sensorGrid = true;
    set.hash = combineSampleHashes(set.sampleHashes);
    return set;
}

}  // namespace autosplit
