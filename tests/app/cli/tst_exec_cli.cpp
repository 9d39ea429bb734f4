// `autosplit run`, `calibrate` and `evaluate` as a user runs them, on a small conv classifier and
// PNG/JPEG-free fixtures written here: JSON fields, agreement with the in-process executor,
// image folders with a preprocessing profile and labels, bits files (names, arrays, plan.json),
// and one-line errors (wrong channels, corrupt image, empty folder, labels that do not match,
// bad bits) that leave nothing in the calibration cache.
#include "onnx_builder.h"

#include "autosplit/data/image.h"
#include "autosplit/data/tensor_io.h"
#include "autosplit/exec/executor.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <random>

using namespace autosplit;
using namespace autosplit::testing;

namespace {

struct Run {
    int code = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args, const QString& cache) {
    QProcess p;
    auto env = QProcessEnvironment::systemEnvironment();
    env.insert("AUTOSPLIT_CACHE", cache);
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(AUTOSPLIT_CLI), args);
    p.waitForFinished(300000);
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
}

QJsonObject parse(const Run& r) {
    QJsonParseError e;
    const QJsonObject o = QJsonDocument::fromJson(r.out, &e).object();
    if (e.error != QJsonParseError::NoError) qWarning("bad JSON: %s", r.out.constData());
    return o;
}

// x[1,3,16,16] -> conv(relu) -> gap -> flatten -> fc -> logits[1,5]
std::string classifier() {
    ModelBuilder b;
    b.input("x", {1, 3, 16, 16});
    b.initializer("w", {6, 3, 3, 3}, randomValues(162, 4));
    b.initializer("wb", {6}, randomValues(6, 5));
    b.node("Conv", {"x", "w", "wb"}, {"c"}, {Attr::list("pads", {1, 1, 1, 1})}, "conv");
    b.node("Relu", {"c"}, {"r"}, {}, "relu");
    b.node("GlobalAveragePool", {"r"}, {"p"}, {}, "gap");
    b.node("Flatten", {"p"}, {"f"}, {}, "flatten");
    b.initializer("fw", {5, 6}, randomValues(30, 6));
    b.node("Gemm", {"f", "fw"}, {"logits"}, {Attr::integer("transB", 1)}, "fc");
    b.output("logits");
    return writeTemp(b, "cls");
}

Image randomImage(int w, int h, int channels, uint32_t seed) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.pixels.resize(static_cast<size_t>(w) * h * channels);
    std::mt19937 rng(seed);
    // Smooth gradients plus noise: images differ in colour balance, so the classes vary.
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c)
                img.pixels[(static_cast<size_t>(y) * w + x) * channels + c] =
                    static_cast<uint8_t>((x * (c + 1) * 7 + y * 5 * (seed % 7) + rng() % 64 + seed * 37 * c) % 256);
    return img;
}

int filesIn(const QString& dir) { return static_cast<int>(QDir(dir).entryList(QDir::Files).size()); }

void writeText(const QString& path, const QByteArray& text) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(text);
}

}  // namespace

class CliExecTest : public QObject {
    Q_OBJECT

private slots:
    void runMatchesTheExecutor() {
        QTemporaryDir dir, cache;
        const std::string model = classifier();
        TensorData x;
        x.shape = {1, 3, 16, 16};
        x.floats = randomValues(768, 9);
        const QString npy = dir.path() + "/x.npy";
        writeTensorFile(npy.toStdString(), x);
        const Run r = cli({"run", QString::fromStdString(model), "--input", npy, "--json", "--top", "3"}, cache.path());
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject j = parse(r);
        const QJsonObject out = j["outputs"].toArray()[0].toObject();
        QCOMPARE(out["name"].toString(), QStringLiteral("logits"));
        QCOMPARE(out["shape"].toArray().size(), 2);
        const QJsonArray top = out["top"].toArray()[0].toArray();
        QCOMPARE(top.size(), 3);
        // Same answer as the library on the same input.
        Graph g = importOnnx(model);
        optimize(g);
        const auto y = Executor(g)({x})[0].floats;
        const int best = static_cast<int>(std::max_element(y.begin(), y.end()) - y.begin());
        QCOMPARE(top[0].toObject()["class"].toInt(), best);
        QVERIFY(std::fabs(top[0].toObject()["score"].toDouble() - y[best]) < 1e-5);
        QVERIFY(top[0].toObject()["score"].toDouble() >= top[1].toObject()["score"].toDouble());
        // Text mode and NAME=FILE binding.
        const Run t = cli({"run", QString::fromStdString(model), "--input", "x=" + npy}, cache.path());
        QVERIFY2(t.code == 0, t.err.constData());
        QVERIFY(t.out.contains("top-5"));
        // Missing input file, too many inputs.
        QCOMPARE(cli({"run", QString::fromStdString(model), "--input", dir.path() + "/nope.npy"}, cache.path()).code, 1);
        QCOMPARE(cli({"run", QString::fromStdString(model), "--input", npy, "--input", npy}, cache.path()).code, 2);
        QCOMPARE(cli({"run", QString::fromStdString(model)}, cache.path()).code, 2);
    }

    void imagesThroughTheProfile() {
        QTemporaryDir dir, cache;
        const std::string model = classifier();
        const QString png = dir.path() + "/a.png";
        writePng(png.toStdString(), randomImage(40, 30, 3, 1));
        writeText(dir.path() + "/p.json", R"({"resize": "keep-aspect", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})");
        const Run r = cli({"run", QString::fromStdString(model), "--input", png, "--preprocess", dir.path() + "/p.json", "--json"},
                          cache.path());
        QVERIFY2(r.code == 0, r.err.constData());
        // The same tensor in-process gives the same logits.
        const auto prof = loadPreprocessProfile((dir.path() + "/p.json").toStdString());
        const TensorData x = imageToTensor(readImage(png.toStdString()), prof, {1, 3, 16, 16}, "a.png");
        QCOMPARE(x.shape, (std::vector<int64_t>{1, 3, 16, 16}));
        Graph g = importOnnx(model);
        optimize(g);
        const auto y = Executor(g)({x})[0].floats;
        const auto top = parse(r)["outputs"].toArray()[0].toObject()["top"].toArray()[0].toArray();
        QVERIFY(std::fabs(top[0].toObject()["score"].toDouble() - *std::max_element(y.begin(), y.end())) < 1e-5);
        // A gray image for a 3-channel input, a corrupt PNG, an unknown profile key.
        const QString gray = dir.path() + "/g.png";
        writePng(gray.toStdString(), randomImage(16, 16, 1, 2));
        Run e = cli({"run", QString::fromStdString(model), "--input", gray, "--preprocess", dir.path() + "/p.json"}, cache.path());
        QCOMPARE(e.code, 1);
        QVERIFY2(e.err.contains("1 channel(s)") && e.err.contains("gray_to_rgb"), e.err.constData());
        writeText(dir.path() + "/bad.png", QByteArray("\x89PNG\r\n\x1a\n", 8) + QByteArray(64, 'x'));
        e = cli({"run", QString::fromStdString(model), "--input", dir.path() + "/bad.png"}, cache.path());
        QCOMPARE(e.code, 1);
        QVERIFY2(e.err.contains("bad.png"), e.err.constData());
        writeText(dir.path() + "/q.json", R"({"mean": [0.5], "sizee": 3})");
        e = cli({"run", QString::fromStdString(model), "--input", png, "--preprocess", dir.path() + "/q.json"}, cache.path());
        QCOMPARE(e.code, 1);
        QVERIFY2(e.err.contains("sizee"), e.err.constData());
    }

    void imageFolderCalibrationAndEvaluation() {
        QTemporaryDir data, cache, tmp;
        const QString model = QString::fromStdString(classifier());
        Graph g = importOnnx(model.toStdString());
        optimize(g);
        Executor ex(g);
        writeText(data.path() + "/preprocess.json", R"({"resize": "stretch", "mean": 0.5, "std": 0.25})");
        const auto prof = loadPreprocessProfile((data.path() + "/preprocess.json").toStdString());
        QByteArray labels;
        for (int i = 0; i < 12; ++i) {
            const QString name = QString("img%1.png").arg(i, 2, 10, QChar('0'));
            const Image img = randomImage(24 + i, 20, 3, 100 + i);
            writePng((data.path() + "/" + name).toStdString(), img);
            // Labels: the float model's class for 9 images, a wrong one for 3 (float accuracy 75 %).
            const auto y = ex({imageToTensor(img, prof, {1, 3, 16, 16}, "")})[0].floats;
            int cls = static_cast<int>(std::max_element(y.begin(), y.end()) - y.begin());
            if (i % 4 == 3) cls = (cls + 1) % 5;
            labels += name.toUtf8() + "\t" + QByteArray::number(cls) + "\n";
        }
        writeText(tmp.path() + "/labels.txt", labels);

        // calibrate on the image folder.
        Run r = cli({"calibrate", model, "--data", data.path(), "--json"}, cache.path());
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(parse(r)["samples"].toInt(), 12);
        QVERIFY(parse(r)["data"].toString().contains("12 images"));
        QCOMPARE(filesIn(cache.path()), 1);

        // evaluate: float16 everywhere, then 8 and 2 bits, with labels.
        const QStringList base{"evaluate", model, "--data", data.path(), "--labels", tmp.path() + "/labels.txt", "--json"};
        r = cli(base + QStringList{"--split", "fc", "--uniform", "16,16"}, cache.path());
        QVERIFY2(r.code == 0, r.err.constData());
        QJsonObject j = parse(r);
        QCOMPARE(j["task"].toString(), QStringLiteral("classifier"));
        QCOMPARE(j["metric"].toString(), QStringLiteral("top1-accuracy-drop"));
        QCOMPARE(j["float_top1_accuracy"].toDouble(), 75.0);
        QCOMPARE(j["accuracy_drop"].toDouble(), 0.0);
        QVERIFY(j["relative_mse"].toDouble() < 1e-5);
        QCOMPARE(j["samples"].toInt(), 12);
        r = cli(base + QStringList{"--split", "3", "--uniform", "8,8"}, cache.path());
        QVERIFY2(r.code == 0, r.err.constData());
        const double mse8 = parse(r)["relative_mse"].toDouble();
        r = cli(base + QStringList{"--split", "3", "--uniform", "2,8"}, cache.path());
        QVERIFY2(r.code == 0, r.err.constData());
        const double mse2 = parse(r)["relative_mse"].toDouble();
        QVERIFY2(mse2 > 10 * mse8, qPrintable(QString("%1 vs %2").arg(mse2).arg(mse8)));
        QVERIFY(mse8 < 1e-2);
        // --nearest: each weight rounded on its own instead of GPTQ (the default) -> other numbers.
        r = cli(base + QStringList{"--split", "3", "--uniform", "2,8", "--nearest"}, cache.path());
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY(parse(r)["relative_mse"].toDouble() != mse2);

        // Bits files: names, per-node arrays and a plan.json's selected entry give the same numbers.
        writeText(tmp.path() + "/names.json",
                  R"({"split": "fc", "weight_bits": {"conv": 2, "fc": 2}, "activation_bits": {"conv": 8, "gap": 8, "flatten": 8, "fc": 8}})");
        writeText(tmp.path() + "/arrays.json", R"({"weight_bits": [2, 8, 8, 2], "activation_bits": [8, 8, 8, 8], "input_bits": 8})");
        writeText(tmp.path() + "/plan.json",
                  R"({"schema": "autosplit-plan", "constraints": {"input_bits": 8}, "selected": {"split_position": 3,
                      "weight_bits": [{"node": "conv", "bits": 2}, {"node": "gap", "bits": 8}, {"node": "flatten", "bits": 8}, {"node": "fc", "bits": 2}],
                      "activation_bits": [{"node": "conv", "bits": 8}, {"node": "gap", "bits": 8}, {"node": "flatten", "bits": 8}, {"node": "fc", "bits": 8}]}})");
        QList<double> mses;
        for (const QStringList& extra : {QStringList{"--bits", tmp.path() + "/names.json"},
                                         QStringList{"--bits", tmp.path() + "/arrays.json", "--split", "3"},
                                         QStringList{"--bits", tmp.path() + "/plan.json"}}) {
            r = cli(base + extra, cache.path());
            QVERIFY2(r.code == 0, r.err.constData());
            mses << parse(r)["relative_mse"].toDouble();
        }
        QCOMPARE(mses[0], mse2);
        QCOMPARE(mses[1], mse2);
        QCOMPARE(mses[2], mse2);
    }

    void badDataFailsClearly() {
        QTemporaryDir data, empty, cache, tmp;
        const QString model = QString::fromStdString(classifier());
        for (int i = 0; i < 3; ++i)
            writePng((data.path() + QString("/i%1.png").arg(i)).toStdString(), randomImage(16, 16, 3, static_cast<uint32_t>(i)));
        // Empty folder.
        Run r = cli({"calibrate", model, "--data", empty.path()}, cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("holds no images"), r.err.constData());
        // Labels that do not match the files: nothing is calibrated or cached.
        writeText(tmp.path() + "/labels.txt", "i0.png 1\ni1.png 2\n");
        r = cli({"evaluate", model, "--data", data.path(), "--labels", tmp.path() + "/labels.txt", "--split", "0", "--uniform", "8,8"},
                cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("no label for 'i2.png'"), r.err.constData());
        writeText(tmp.path() + "/labels.txt", "i0.png 1\ni1.png 2\ni2.png 3\nother.png 1\n");
        r = cli({"evaluate", model, "--data", data.path(), "--labels", tmp.path() + "/labels.txt", "--split", "0", "--uniform", "8,8"},
                cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("other.png"), r.err.constData());
        writeText(tmp.path() + "/labels.txt", "i0.png 1\ni1.png cat\ni2.png 3\n");
        r = cli({"evaluate", model, "--data", data.path(), "--labels", tmp.path() + "/labels.txt", "--split", "0", "--uniform", "8,8"},
                cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("not a class index"), r.err.constData());
        // A corrupt image among good ones.
        writeText(data.path() + "/i3.jpg", QByteArray("\xff\xd8\xff\xe0", 4) + QByteArray(100, '\0'));
        r = cli({"calibrate", model, "--data", data.path()}, cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("i3.jpg"), r.err.constData());
        QFile::remove(data.path() + "/i3.jpg");
        // Mixed images and tensor files.
        TensorData t;
        t.shape = {1, 3, 16, 16};
        t.floats.assign(768, 0.f);
        writeTensorFile((data.path() + "/t.npy").toStdString(), t);
        r = cli({"calibrate", model, "--data", data.path()}, cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("mixes"), r.err.constData());
        QFile::remove(data.path() + "/t.npy");
        // Bits that are not supported, a split outside the model, an unknown node.
        r = cli({"evaluate", model, "--data", data.path(), "--split", "0", "--uniform", "3,8"}, cache.path());
        QCOMPARE(r.code, 1);
        r = cli({"evaluate", model, "--data", data.path(), "--split", "9", "--uniform", "8,8"}, cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("outside"), r.err.constData());
        writeText(tmp.path() + "/b.json", R"({"split": 1, "weight_bits": {"nosuch": 8}, "default_activation_bits": 8})");
        r = cli({"evaluate", model, "--data", data.path(), "--bits", tmp.path() + "/b.json"}, cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("nosuch"), r.err.constData());
        // Unknown task; a threshold without the binary-map task.
        r = cli({"evaluate", model, "--data", data.path(), "--split", "0", "--uniform", "8,8", "--task", "segmentation"}, cache.path());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("segmentation") && r.err.contains("binary-map"), r.err.constData());
        r = cli({"evaluate", model, "--data", data.path(), "--split", "0", "--uniform", "8,8", "--map-threshold", "0.5"}, cache.path());
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--task binary-map"), r.err.constData());
        r = cli({"evaluate", model, "--data", data.path(), "--split", "0", "--uniform", "8,8", "--task", "binary-map", "--map-threshold", "x"},
                cache.path());
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--map-threshold needs a number"), r.err.constData());
        r = cli({"evaluate", model, "--data", data.path(), "--split", "0", "--uniform", "8,8", "--bias-correction", "some"}, cache.path());
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--bias-correction must be empirical, weight or none"), r.err.constData());
        QCOMPARE(filesIn(cache.path()), 0);
    }
};

QTEST_GUILESS_MAIN(CliExecTest)
#include "tst_exec_cli.moc"
