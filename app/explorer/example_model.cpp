#include "example_model.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace autosplit::explorer {

namespace {
bool usable(const QString& p) { return !p.isEmpty() && QFileInfo(p).isFile() && QFileInfo(p).size() > 0; }
}  // namespace

QString generatedExamplePath() {
    const QString installed = QDir(QCoreApplication::applicationDirPath())
                                  .absoluteFilePath(QStringLiteral("../" AUTOSPLIT_INSTALL_DATADIR "/example.onnx"));
    for (const QString& p : {QDir::cleanPath(installed), QStringLiteral(AUTOSPLIT_BUILD_EXAMPLE)})
        if (usable(p)) return p;
    return {};
}

ExampleModel findExampleModel() {
    QStringList dirs;
    const QString env = qEnvironmentVariable("AUTOSPLIT_MODELS");
    if (!env.isEmpty()) dirs << env;
    dirs << QStringLiteral(AUTOSPLIT_MODELS_DIR);
    for (const QString& d : dirs) {
        const QDir dir(d);
        const QString rec = dir.absoluteFilePath(QStringLiteral("ch_PP-OCRv4_rec_infer.onnx"));
        const QString lines = dir.absoluteFilePath(QStringLiteral("ocr-lines"));
        const QString keys = dir.absoluteFilePath(QStringLiteral("ppocr_keys_v1.txt"));
        if (usable(rec) && usable(keys) && usable(QDir(lines).absoluteFilePath(QStringLiteral("labels.txt")))) {
            ExampleModel m{rec, {{"x", {1, 3, 48, 320}}}, QStringLiteral("PP-OCRv4 text recognition on rendered lines"), {}};
            m.data.folder = lines.toStdString();
            m.data.labels = QDir(lines).absoluteFilePath(QStringLiteral("labels.txt")).toStdString();
            m.data.dictionary = keys.toStdString();
            return m;
        }
    }
    for (const QString& d : dirs) {
        const QString p = QDir(d).absoluteFilePath(QStringLiteral("ch_PP-OCRv4_det_infer.onnx"));
        if (usable(p))
            return {p, {{"x", {1, 3, 640, 640}}}, QStringLiteral("PP-OCRv4 text detection (1x3x640x640)"), {}};
    }
    const QString generated = generatedExamplePath();
    if (!generated.isEmpty())
        return {generated, {}, QStringLiteral("bundled example classifier (random weights, synthetic inputs: an offline fallback)"), {}};
    return {};
}

}  // namespace autosplit::explorer
