// Golden outputs: `autosplit plan` (plan.json) and `autosplit inspect --json` on the bundled
// example give the same plan and figures as the files in golden/ (recorded from the CLI; the
// model path is normalized, numbers compare to 1e-9 relative; the calibration's model hash, a
// hash of the equalized weights, whose last bits follow the CPU's vector width (AVX2 and AVX-512
// sum the range pass's convolutions in another order), is checked for its form only). A
// deliberate change of the
// method updates these files in the same commit, with the reason in its message:
//   build/app/autosplit plan build/resources/example.onnx --synthetic 8 --no-cache --out /tmp/p.json
//   build/app/autosplit inspect build/resources/example.onnx --json
#include "cli_runner.h"

#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace autosplit::testing;
using nlohmann::json;

namespace {

json readJson(const QString& path) {
    std::ifstream in(path.toStdString());
    if (!in) qFatal("cannot read %s", qPrintable(path));
    return json::parse(in);
}

QString golden(const char* name) { return QStringLiteral(AUTOSPLIT_SOURCE_DIR "/tests/app/cli/golden/") + name; }

// First difference between two documents as "path: expected vs actual", or empty.
std::string firstDifference(const json& want, const json& got, const std::string& path = "") {
    if (want.is_number() && got.is_number()) {
        const double a = want.get<double>(), b = got.get<double>();
        return std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)})
                   ? std::string()
                   : path + ": " + want.dump() + " vs " + got.dump();
    }
    if (want.type() != got.type()) return path + ": " + want.dump() + " vs " + got.dump();
    if (want.is_object()) {
        for (const auto& [k, v] : want.items()) {
            if (!got.contains(k)) return path + "/" + k + ": missing";
            if (auto d = firstDifference(v, got.at(k), path + "/" + k); !d.empty()) return d;
        }
        for (const auto& [k, v] : got.items())
            if (!want.contains(k)) return path + "/" + k + ": not in the golden file";
        return {};
    }
    if (want.is_array()) {
        if (want.size() != got.size())
            return path + ": " + std::to_string(want.size()) + " vs " + std::to_string(got.size()) + " entries";
        for (size_t i = 0; i < want.size(); ++i)
            if (auto d = firstDifference(want[i], got[i], path + "/" + std::to_string(i)); !d.empty()) return d;
        return {};
    }
    return want == got ? std::string() : path + ": " + want.dump() + " vs " + got.dump();
}

}  // namespace

class TestCliGolden : public QObject {
    Q_OBJECT
private slots:
    void planOnTheExample() {
        QTemporaryDir dir;
        const QString out = dir.filePath("plan.json");
        const CliRun r = runCli({"plan", AUTOSPLIT_EXAMPLE_MODEL, "--edge", "eyeriss", "--cloud", "tpu", "--uplink", "3Mbps",
                                 "--edge-memory", "4GiB", "--max-drop", "5%", "--synthetic", "8", "--no-cache", "--out", out});
        QVERIFY2(r.code == 0, r.err.constData());
        json got = readJson(out);
        got["model"]["path"] = "<model>";
        json want = readJson(golden("example_plan.json"));
        const std::string hash = got["calibration"]["model_hash"].get<std::string>();
        QVERIFY2(hash.size() == 16 && hash.find_first_not_of("0123456789abcdef") == std::string::npos, hash.c_str());
        got["calibration"]["model_hash"] = want["calibration"]["model_hash"];
        const std::string d = firstDifference(want, got);
        QVERIFY2(d.empty(), d.c_str());
    }

    void inspectOnTheExample() {
        const CliRun r = runCli({"inspect", AUTOSPLIT_EXAMPLE_MODEL, "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const std::string d = firstDifference(readJson(golden("example_inspect.json")), json::parse(r.out.toStdString()));
        QVERIFY2(d.empty(), d.c_str());
    }

    // The comparison itself must notice a changed figure.
    void comparisonFindsAChange() {
        json a = readJson(golden("example_plan.json"));
        json b = a;
        b["selected"]["latency_ms"]["total"] = b["selected"]["latency_ms"]["total"].get<double>() * (1 + 1e-6);
        QVERIFY(firstDifference(a, a).empty());
        QVERIFY(!firstDifference(a, b).empty());
    }
};

QTEST_GUILESS_MAIN(TestCliGolden)
#include "tst_cli_golden.moc"
