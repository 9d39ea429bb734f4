// Images as model inputs: PNG round trips, JPEG decoding (fixtures encoded here with libjpeg),
// corrupt/truncated files, the preprocessing profile (normalization, channel order, layout,
// keep-aspect padding, centre crop, sizes) and image-folder calibration sets.
#include "autosplit/data/image.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/util/errors.h"
#include "graph_fixtures.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cstdio>
#include <fstream>
#include <jpeglib.h>

using namespace autosplit;

namespace {

Image pattern(int w, int h, int channels) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.pixels.resize(static_cast<size_t>(w) * h * channels);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c)
                img.pixels[(static_cast<size_t>(y) * w + x) * channels + c] = static_cast<uint8_t>((x * 8 + y * 4 + c * 60) % 256);
    return img;
}

std::string encodeJpeg(const Image& img, int quality) {
    jpeg_compress_struct c;
    jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char* buf = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buf, &size);
    c.image_width = static_cast<JDIMENSION>(img.width);
    c.image_height = static_cast<JDIMENSION>(img.height);
    c.input_components = img.channels;
    c.in_color_space = img.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(img.pixels.data() + static_cast<size_t>(c.next_scanline) * img.width * img.channels);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    std::string out(reinterpret_cast<char*>(buf), size);
    jpeg_destroy_compress(&c);
    std::free(buf);
    return out;
}

void writeBytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

float at(const TensorData& t, int c, int y, int x) {  // NCHW
    return t.floats[(static_cast<size_t>(c) * t.shape[2] + y) * t.shape[3] + x];
}

}  // namespace

class ImageTest : public QObject {
    Q_OBJECT

private slots:
    void pngRoundTrip() {
        QTemporaryDir d;
        for (int ch : {1, 3}) {
            const Image img = pattern(13, 7, ch);
            const std::string p = (d.path() + QString("/p%1.png").arg(ch)).toStdString();
            writePng(p, img);
            const Image back = readImage(p);
            QCOMPARE(back.width, 13);
            QCOMPARE(back.height, 7);
            QCOMPARE(back.channels, ch);
            QVERIFY(back.pixels == img.pixels);
        }
    }

    void jpegDecoding() {
        Image img = pattern(32, 24, 3);
        for (int y = 0; y < 24; ++y)  // smooth gradients: what JPEG keeps well
            for (int x = 0; x < 32; ++x)
                for (int c = 0; c < 3; ++c) img.pixels[(static_cast<size_t>(y) * 32 + x) * 3 + c] = static_cast<uint8_t>(x * 3 + y * 2 + c * 30);
        const Image back = decodeImage(encodeJpeg(img, 95), "q95.jpg");
        QCOMPARE(back.channels, 3);
        QCOMPARE(back.width, 32);
        double diff = 0;
        for (size_t i = 0; i < img.pixels.size(); ++i) diff += std::abs(int(img.pixels[i]) - int(back.pixels[i]));
        diff /= static_cast<double>(img.pixels.size());
        QVERIFY2(diff < 3.0, qPrintable(QString::number(diff)));
        QCOMPARE(decodeImage(encodeJpeg(pattern(8, 8, 1), 90), "g.jpg").channels, 1);
        // Truncated: libjpeg would pad with grey; we refuse.
        const std::string full = encodeJpeg(img, 95);
        try {
            decodeImage(full.substr(0, full.size() / 2), "half.jpg");
            QFAIL("truncated JPEG accepted");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("half.jpg"));
        }
        QVERIFY_THROWS_EXCEPTION(Error, decodeImage(std::string("\xff\xd8\xff\xe0") + std::string(50, '\0'), "junk.jpg"));
        QVERIFY_THROWS_EXCEPTION(Error, decodeImage("GIF89a....", "x.gif"));
        QVERIFY_THROWS_EXCEPTION(Error, readImage("/nonexistent/a.png"));
    }

    void profileMath() {
        const Image img = pattern(4, 3, 3);
        PreprocessProfile p = parsePreprocessProfile(R"({"mean": [0.1, 0.2, 0.3], "std": [0.5, 0.25, 2], "resize": "none"})", "t");
        const TensorData t = imageToTensor(img, p, {1, 3, 3, 4}, "img");
        QCOMPARE(t.shape, (std::vector<int64_t>{1, 3, 3, 4}));
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < 3; ++y)
                for (int x = 0; x < 4; ++x) {
                    const float px = img.pixels[(static_cast<size_t>(y) * 4 + x) * 3 + c];
                    const float want = (px / 255.f - p.mean[c]) / p.std[c];
                    QVERIFY(std::fabs(at(t, c, y, x) - want) < 1e-5f);
                }
        // BGR swaps channels 0 and 2; NHWC interleaves.
        PreprocessProfile bgr;
        bgr.channelOrder = "BGR";
        bgr.resize = "none";
        const TensorData b = imageToTensor(img, bgr, {1, 3, 3, 4}, "img");
        QCOMPARE(at(b, 0, 1, 2), img.pixels[(1 * 4 + 2) * 3 + 2] / 255.f);
        PreprocessProfile nhwc;
        nhwc.layout = "NHWC";
        const TensorData h = imageToTensor(img, nhwc, {1, 3, 4, 3}, "img");
        QCOMPARE(h.shape, (std::vector<int64_t>{1, 3, 4, 3}));
        QCOMPARE(h.floats[(1 * 4 + 2) * 3 + 1], img.pixels[(1 * 4 + 2) * 3 + 1] / 255.f);
        // "none" with the wrong size, wrong channels, a size the profile and the model disagree on.
        QVERIFY_THROWS_EXCEPTION(Error, imageToTensor(img, bgr, {1, 3, 4, 4}, "img"));
        QVERIFY_THROWS_EXCEPTION(Error, imageToTensor(pattern(4, 3, 1), PreprocessProfile{}, {1, 3, 3, 4}, "gray"));
        PreprocessProfile g2r;
        g2r.grayToRgb = true;
        QCOMPARE(imageToTensor(pattern(4, 3, 1), g2r, {1, 3, 3, 4}, "gray").shape[1], int64_t(3));
        PreprocessProfile sized = parsePreprocessProfile(R"({"width": 8, "height": 8})", "t");
        QVERIFY_THROWS_EXCEPTION(Error, imageToTensor(img, sized, {1, 3, 3, 4}, "img"));
        QCOMPARE(imageToTensor(img, sized, {1, 3, -1, -1}, "img").shape, (std::vector<int64_t>{1, 3, 8, 8}));
        QVERIFY_THROWS_EXCEPTION(Error, imageToTensor(img, PreprocessProfile{}, {1, 3, -1, -1}, "img"));
        // Malformed profiles name the key.
        for (const char* bad : {R"({"layout": "CHW"})", R"({"std": [0]})", R"({"widht": 3})", R"([1])", R"({"scale": "x"})"})
            QVERIFY_THROWS_EXCEPTION(Error, parsePreprocessProfile(bad, "bad"));
    }

    void resizeModes() {
        // A 40x10 constant-white image into 16x16: keep-aspect fills a 16x4 band, pads the rest.
        Image wide;
        wide.width = 40;
        wide.height = 10;
        wide.channels = 3;
        wide.pixels.assign(40 * 10 * 3, 255);
        PreprocessProfile k = parsePreprocessProfile(R"({"resize": "keep-aspect", "pad_value": -7})", "k");
        TensorData t = imageToTensor(wide, k, {1, 3, 16, 16}, "wide");
        int band = 0, pad = 0;
        for (int y = 0; y < 16; ++y) {
            const float v = at(t, 0, y, 5);
            if (std::fabs(v - 1.f) < 1e-6f) ++band;
            else if (v == -7.f) ++pad;
        }
        QCOMPARE(band, 4);
        QCOMPARE(pad, 12);
        QCOMPARE(at(t, 0, 0, 5), -7.f);   // centred: padding above
        QCOMPARE(at(t, 0, 7, 5), 1.f);
        k.padAlign = "top-left";
        t = imageToTensor(wide, k, {1, 3, 16, 16}, "wide");
        QCOMPARE(at(t, 0, 0, 5), 1.f);
        QCOMPARE(at(t, 0, 15, 5), -7.f);
        // Centre crop keeps the middle: left half black, right half white -> crop of a 2:1 image
        // to a square shows both halves around the centre line.
        Image split;
        split.width = 64;
        split.height = 32;
        split.channels = 1;
        split.pixels.resize(64 * 32);
        for (int y = 0; y < 32; ++y)
            for (int x = 0; x < 64; ++x) split.pixels[static_cast<size_t>(y) * 64 + x] = x < 32 ? 0 : 255;
        PreprocessProfile crop = parsePreprocessProfile(R"({"resize": "crop", "channel_order": "GRAY"})", "c");
        t = imageToTensor(split, crop, {1, 1, 16, 16}, "split");
        QCOMPARE(at(t, 0, 8, 0), 0.f);
        QCOMPARE(at(t, 0, 8, 15), 1.f);
        // Stretch of a constant image stays constant.
        PreprocessProfile st;
        t = imageToTensor(wide, st, {1, 3, 16, 16}, "wide");
        for (float v : t.floats) QCOMPARE(v, 1.f);
    }

    void bilinearMatchesTheFormula_data() {
        QTest::addColumn<int>("sw");
        QTest::addColumn<int>("sh");
        QTest::addColumn<int>("dw");
        QTest::addColumn<int>("dh");
        QTest::addRow("upsample 7x5 -> 13x9") << 7 << 5 << 13 << 9;
        QTest::addRow("downsample 37x23 -> 16x10") << 37 << 23 << 16 << 10;
        QTest::addRow("same size") << 11 << 6 << 11 << 6;
        QTest::addRow("2x downsample in x (half-way values)") << 8 << 3 << 4 << 3;
    }

    void bilinearMatchesTheFormula() {
        // Stretch of a colour gradient, every pixel against the half-pixel bilinear formula
        // computed here per pixel, rounded half away from zero as an 8-bit sensor would
        // (std::round: 2.5 -> 3), BGR order.
        QFETCH(int, sw);
        QFETCH(int, sh);
        QFETCH(int, dw);
        QFETCH(int, dh);
        Image img;  // odd steps between neighbours: a 2x downsample averages to exact halves
        img.width = sw;
        img.height = sh;
        img.channels = 3;
        img.pixels.resize(size_t(sw) * sh * 3);
        for (int y = 0; y < sh; ++y)
            for (int x = 0; x < sw; ++x)
                for (int c = 0; c < 3; ++c) img.pixels[(size_t(y) * sw + x) * 3 + c] = uint8_t((x * 7 + y * 13 + c * 29) % 256);
        PreprocessProfile p = parsePreprocessProfile(R"({"channel_order": "BGR", "scale": 1, "mean": 0, "std": 1})", "p");
        const TensorData t = imageToTensor(img, p, {1, 3, dh, dw}, "g");
        int halfWay = 0;
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < dh; ++y)
                for (int x = 0; x < dw; ++x) {
                    const float sx = static_cast<float>(sw) / dw, sy = static_cast<float>(sh) / dh;
                    const float fx = std::clamp((x + 0.5f) * sx - 0.5f, 0.f, float(sw - 1));
                    const float fy = std::clamp((y + 0.5f) * sy - 0.5f, 0.f, float(sh - 1));
                    const int x0 = int(fx), y0 = int(fy), x1 = std::min(x0 + 1, sw - 1), y1 = std::min(y0 + 1, sh - 1);
                    const float ax = fx - x0, ay = fy - y0;
                    auto px = [&](int xx, int yy) { return float(img.pixels[(size_t(yy) * sw + xx) * 3 + (2 - c)]); };
                    const float v = (1 - ay) * ((1 - ax) * px(x0, y0) + ax * px(x1, y0)) + ay * ((1 - ax) * px(x0, y1) + ax * px(x1, y1));
                    halfWay += v - std::floor(v) == 0.5f;
                    QCOMPARE(at(t, c, y, x), std::clamp(std::round(v), 0.f, 255.f));
                }
        if (sw == 2 * dw) QVERIFY(halfWay > 0);  // the rounding of exact halves is exercised
    }

    void folders() {
        QTemporaryDir d;
        Graph g;
        const int xi = testing::addInput(g, "x", {1, 3, 8, 8});
        const int yi = testing::addValue(g, "y");
        g.nodes = {testing::makeNode("relu", "Relu", {xi}, {yi})};
        g.inputs = {xi};
        g.outputs = {yi};
        g.rebuild();
        QVERIFY_THROWS_EXCEPTION(Error, loadImageFolder(g, d.path().toStdString(), {}));
        QVERIFY(!folderHasImages(d.path().toStdString()));
        writePng((d.path() + "/b.png").toStdString(), pattern(10, 10, 3));
        writeBytes((d.path() + "/a.JPG").toStdString(), encodeJpeg(pattern(12, 9, 3), 90));
        writeBytes((d.path() + "/notes.txt").toStdString(), "ignored");
        const Dataset s = loadImageFolder(g, d.path().toStdString(), {});
        QCOMPARE(s.samples.size(), size_t(2));
        QCOMPARE(s.sampleNames, (std::vector<std::string>{"a.JPG", "b.png"}));
        QCOMPARE(s.samples[0][0].shape, (std::vector<int64_t>{1, 3, 8, 8}));
        QVERIFY(s.description.find("2 images") != std::string::npos);
        const ErrorTable t = calibrate(g, s);
        QCOMPARE(t.samples, 2);
        writeBytes((d.path() + "/c.png").toStdString(), "\x89PNG\r\n\x1a\nbroken");
        try {
            loadImageFolder(g, d.path().toStdString(), {});
            QFAIL("corrupt image accepted");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("c.png"));
        }
        // Files load in parallel; the samples keep the files' order and the first broken file in
        // that order is the one named, whichever thread met it first.
        for (int i = 0; i < 12; ++i)
            writePng((d.path() + QStringLiteral("/d%1.png").arg(i, 2, 10, QChar('0'))).toStdString(), pattern(9 + i, 10, 3));
        writeBytes((d.path() + "/z.png").toStdString(), "\x89PNG\r\n\x1a\nbroken too");
        for (int run = 0; run < 5; ++run) {
            try {
                loadImageFolder(g, d.path().toStdString(), {});
                QFAIL("corrupt image accepted");
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains("c.png") && !QString(e.what()).contains("z.png"), e.what());
            }
        }
        QFile::remove(d.path() + "/c.png");
        QFile::remove(d.path() + "/z.png");
        const Dataset many = loadImageFolder(g, d.path().toStdString(), {});
        QCOMPARE(many.samples.size(), size_t(14));
        QCOMPARE(many.sampleNames[2], std::string("d00.png"));
        QCOMPARE(many.sampleNames[13], std::string("d11.png"));
        Dataset one;  // each sample is its own file's, one at a time
        for (const auto& name : many.sampleNames) {
            QTemporaryDir single;
            QFile::copy(d.path() + "/" + QString::fromStdString(name), single.path() + "/" + QString::fromStdString(name));
            one.samples.push_back(loadImageFolder(g, single.path().toStdString(), {}).samples.front());
        }
        for (size_t i = 0; i < many.samples.size(); ++i) QVERIFY(many.samples[i][0].floats == one.samples[i][0].floats);
    }
};

QTEST_GUILESS_MAIN(ImageTest)
#include "tst_exec_image.moc"
