// Every model of ONNX's operator conformance suite (Debian's libonnx-testdata) either imports
// or fails with one of our errors and a message: never a crash, never another exception type.
#include "autosplit/ir/analysis.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/util/errors.h"

#include <QtTest>

#include <filesystem>
#include <map>

using namespace autosplit;
namespace fs = std::filesystem;

class TestTestdataImport : public QObject {
    Q_OBJECT
private slots:
    void allNodeTests() {
        const fs::path root = "/usr/share/libonnx-testdata/data/node";
        if (!fs::exists(root)) QSKIP("libonnx-testdata is not installed (apt-get install libonnx-testdata)");
        int imported = 0, rejected = 0, total = 0;
        std::map<std::string, int> reasons;
        std::vector<fs::path> dirs;
        for (const auto& e : fs::directory_iterator(root)) dirs.push_back(e.path());
        std::sort(dirs.begin(), dirs.end());
        for (const auto& dir : dirs) {
            const fs::path model = dir / "model.onnx";
            if (!fs::exists(model)) continue;
            ++total;
            try {
                Graph g = importOnnx(model.string());
                optimize(g);
                enumerateSplits(g);
                try {
                    analyze(g);
                } catch (const ShapeError&) {
                    // Shapes of some ops stay data-dependent (NonZero, Loop...): said by name, fine.
                }
                ++imported;
            } catch (const Error& e) {
                const std::string msg = e.what();
                QVERIFY2(!msg.empty(), model.c_str());
                QVERIFY2(msg.find('\n') == std::string::npos, (model.string() + ": multi-line error: " + msg).c_str());
                ++rejected;
                // Bucket by the start of the message for the summary.
                ++reasons[msg.substr(msg.find(':') + 1, 40)];
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QStringLiteral("%1: unexpected %2").arg(QString::fromStdString(model.string()), e.what())));
            }
        }
        qInfo("libonnx-testdata: %d models, %d imported, %d rejected with a clear error", total, imported, rejected);
        for (const auto& [reason, n] : reasons) qInfo("  %4d x %s", n, reason.c_str());
        QVERIFY(total > 500);
        QVERIFY(imported > total * 8 / 10);
    }
};

QTEST_GUILESS_MAIN(TestTestdataImport)
#include "tst_testdata_import.moc"
