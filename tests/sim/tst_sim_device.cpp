// Device profiles: the shipped Table-1 devices and validation of user files.
#include "autosplit/sim/device.h"

#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace autosplit::sim;
using nlohmann::json;

namespace {

json eyerissJson() {
    std::ifstream in(AUTOSPLIT_SOURCE_DIR "/resources/devices/eyeriss.json");
    if (!in) qFatal("cannot open resources/devices/eyeriss.json");
    return json::parse(in);
}

// Applies "path=value" (value as JSON; "<delete>" removes the field) to a JSON pointer path.
json mutated(const QString& change) {
    json doc = eyerissJson();
    const QString path = change.section('=', 0, 0);
    const QString value = change.section('=', 1);
    const json::json_pointer ptr(path.toStdString());
    if (value == "<delete>") doc[ptr.parent_pointer()].erase(ptr.back());
    else doc[ptr] = json::parse(value.toStdString());
    return doc;
}

}  // namespace

class TestDevice : public QObject {
    Q_OBJECT
private slots:
    void builtinsAreTable1() {
        QCOMPARE(builtinDeviceNames(), (std::vector<std::string>{"eyeriss", "tpu"}));
        const DeviceProfile e = builtinDevice("eyeriss");
        QCOMPARE(e.rows, 12);
        QCOMPARE(e.cols, 14);
        QCOMPARE(e.onchipBytes(), 192 * 1024);
        QCOMPARE(e.offchipBytes, int64_t(4) << 30);
        QCOMPARE(e.bandwidthGBps, 1.0);
        QCOMPARE(e.clockMHz, 200.0);
        QCOMPARE(e.nativeMacBits, 16);                   // Eyeriss's PEs are 16-bit
        QCOMPARE(e.peakMacsPerSecond(), 33.6e9);         // Table 1's "34 GOPs" (one op per MAC)
        QCOMPARE(e.peakOpsPerSecond(), 67.2e9);          // at the one convention, 2 ops per MAC
        QCOMPARE(e.source, std::string("built-in"));
        QVERIFY(e.supportsBits(4));
        QVERIFY(!e.supportsBits(3));

        const DeviceProfile t = builtinDevice("tpu");
        QCOMPARE(t.rows, 256);
        QCOMPARE(t.cols, 256);
        QCOMPARE(t.onchipBytes(), int64_t(28) << 20);
        QCOMPARE(t.offchipBytes, int64_t(16) << 30);
        QCOMPARE(t.bandwidthGBps, 13.0);
        QCOMPARE(t.nativeMacBits, 8);
        QVERIFY(std::abs(t.peakOpsPerSecond() - 96e12) / 96e12 < 0.01);  // 95.9 TOPs at 2 ops per MAC
        QCOMPARE(t.dataflow, Dataflow::WeightStationary);
    }

    void shippedFilesMatchEmbeddedCopies() {
        for (const auto& name : builtinDeviceNames()) {
            const std::string path = AUTOSPLIT_SOURCE_DIR "/resources/devices/" + name + ".json";
            QCOMPARE(loadDevice(path).fingerprint(), builtinDevice(name).fingerprint());
        }
    }

    void onePeakConvention() {
        // Both Table-1 devices count a MAC as 2 ops; nothing in a device file can change that.
        QCOMPARE(DeviceProfile::kOpsPerMac, 2);
        for (const auto& name : builtinDeviceNames()) {
            const DeviceProfile d = builtinDevice(name);
            QCOMPARE(d.peakOpsPerSecond(), 2 * d.peakMacsPerSecond());
        }
    }

    void passesByNativeWidth_data() {
        QTest::addColumn<int>("native");
        QTest::addColumn<int>("bits");
        QTest::addColumn<int>("passes");
        // At or below the native width: one pass; wider: ceil(bits / native) slices.
        QTest::addRow("int8 array, 2 bits") << 8 << 2 << 1;
        QTest::addRow("int8 array, 8 bits") << 8 << 8 << 1;
        QTest::addRow("int8 array, 9 bits") << 8 << 9 << 2;
        QTest::addRow("int8 array, 16 bits") << 8 << 16 << 2;
        QTest::addRow("int8 array, 32 bits") << 8 << 32 << 4;
        QTest::addRow("16-bit PEs, 4 bits") << 16 << 4 << 1;
        QTest::addRow("16-bit PEs, 8 bits") << 16 << 8 << 1;
        QTest::addRow("16-bit PEs, 16 bits") << 16 << 16 << 1;
        QTest::addRow("16-bit PEs, 32 bits") << 16 << 32 << 2;
        QTest::addRow("4-bit PEs, 6 bits") << 4 << 6 << 2;
        QTest::addRow("4-bit PEs, 16 bits") << 4 << 16 << 4;
        QTest::addRow("1-bit PEs, 3 bits") << 1 << 3 << 3;
    }
    void passesByNativeWidth() {
        QFETCH(int, native);
        QFETCH(int, bits);
        QFETCH(int, passes);
        DeviceProfile d = builtinDevice("tpu");
        d.nativeMacBits = native;
        QCOMPARE(d.operandPasses(bits), passes);
        QCOMPARE(d.macPasses(bits, bits), passes * passes);
        QCOMPARE(d.macPasses(bits, native), passes);
    }

    void float16PassesOnTable1Devices() {
        // Eyeriss's 16-bit PEs run float16-sized operands in one pass (not 4 as on an INT8
        // array); the TPU's INT8 array takes 2 x 2 slices.
        QCOMPARE(builtinDevice("eyeriss").macPasses(16, 16), 1);
        QCOMPARE(builtinDevice("eyeriss").macPasses(8, 8), 1);
        QCOMPARE(builtinDevice("tpu").macPasses(16, 16), 4);
        QCOMPARE(builtinDevice("tpu").macPasses(16, 8), 2);
        QCOMPARE(builtinDevice("tpu").macPasses(8, 8), 1);
    }

    void writeReadsBack() {
        for (const auto& name : builtinDeviceNames()) {
            const DeviceProfile d = builtinDevice(name);
            const std::string text = writeDevice(d);
            const json doc = json::parse(text);
            QCOMPARE(doc["version"].get<int>(), DeviceProfile::kSchemaVersion);
            QCOMPARE(doc["array"]["native_mac_bits"].get<int>(), d.nativeMacBits);
            QVERIFY(!doc["array"].contains("ops_per_mac"));
            const DeviceProfile back = parseDevice(text, name + ".json");
            QCOMPARE(back.fingerprint(), d.fingerprint());
            QCOMPARE(back.description, d.description);
        }
        DeviceProfile odd = builtinDevice("eyeriss");
        odd.name = "odd";
        odd.nativeMacBits = 4;
        odd.clockMHz = 123.5;
        odd.doubleBuffered = false;
        odd.bits = {3, 5};
        QCOMPARE(parseDevice(writeDevice(odd), "odd.json").fingerprint(), odd.fingerprint());
    }

    void readsVersion1() {
        // Version 1 named the native width mac_bits and carried a per-file ops_per_mac, which is
        // validated and then ignored: the peak follows the one convention.
        json doc = eyerissJson();
        doc["version"] = 1;
        doc["array"].erase("native_mac_bits");
        doc["array"]["mac_bits"] = 8;
        doc["array"]["ops_per_mac"] = 1;
        const DeviceProfile d = parseDevice(doc.dump(), "old.json");
        QCOMPARE(d.nativeMacBits, 8);
        QCOMPARE(d.peakOpsPerSecond(), 2 * d.peakMacsPerSecond());

        json noOps = doc;
        noOps["array"].erase("ops_per_mac");
        QVERIFY_THROWS_EXCEPTION(DeviceError, parseDevice(noOps.dump(), "old.json"));
        json zeroOps = doc;
        zeroOps["array"]["ops_per_mac"] = 0;
        QVERIFY_THROWS_EXCEPTION(DeviceError, parseDevice(zeroOps.dump(), "old.json"));
        json newName = doc;
        newName["array"]["native_mac_bits"] = 16;  // a version-2 field in a version-1 file
        try {
            parseDevice(newName.dump(), "old.json");
            QFAIL("accepted native_mac_bits in a version-1 file");
        } catch (const DeviceError& e) {
            QVERIFY2(QString(e.what()).contains("unknown field 'array.native_mac_bits'"), e.what());
        }
    }

    void resolveNameOrFile() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        json doc = eyerissJson();
        doc["name"] = "my-board";
        doc["array"]["rows"] = 16;
        const std::string path = dir.filePath("board.json").toStdString();
        std::ofstream(path) << doc.dump(2);
        const DeviceProfile d = resolveDevice(path);
        QCOMPARE(d.name, std::string("my-board"));
        QCOMPARE(d.rows, 16);
        QCOMPARE(d.source, path);
        QCOMPARE(resolveDevice("tpu").name, std::string("tpu"));
        QVERIFY_THROWS_EXCEPTION(DeviceError, resolveDevice("nosuchdevice"));
        QVERIFY_THROWS_EXCEPTION(DeviceError, resolveDevice(dir.filePath("missing.json").toStdString()));
    }

    void bitsAreSortedOnLoad() {
        json doc = eyerissJson();
        doc["bits"] = {8, 2, 4};
        QCOMPARE(parseDevice(doc.dump(), "x.json").bits, (std::vector<int>{2, 4, 8}));
    }

    void rejectsBadField_data() {
        QTest::addColumn<QString>("change");
        QTest::addColumn<QString>("message");
        QTest::addRow("missing rows") << "/array/rows=<delete>" << "missing field 'array.rows'";
        QTest::addRow("negative rows") << "/array/rows=-12" << "field 'array.rows' must be positive, got -12";
        QTest::addRow("zero cols") << "/array/cols=0" << "field 'array.cols' must be positive, got 0";
        QTest::addRow("fractional cols") << "/array/cols=14.5" << "field 'array.cols' must be an integer";
        QTest::addRow("rows as string") << "/array/rows=\"12\"" << "field 'array.rows' must be an integer, got string";
        QTest::addRow("unknown dataflow") << "/array/dataflow=\"rs\""
                                          << "field 'array.dataflow' must be one of \"os\", \"ws\", \"is\", got \"rs\"";
        QTest::addRow("dataflow as number") << "/array/dataflow=1" << "field 'array.dataflow' must be a string";
        QTest::addRow("missing clock") << "/array/clock_mhz=<delete>" << "missing field 'array.clock_mhz'";
        QTest::addRow("negative clock") << "/array/clock_mhz=-200.5" << "field 'array.clock_mhz' must be positive";
        QTest::addRow("missing native mac bits") << "/array/native_mac_bits=<delete>"
                                                 << "missing field 'array.native_mac_bits'";
        QTest::addRow("zero native mac bits") << "/array/native_mac_bits=0"
                                              << "field 'array.native_mac_bits' must be positive, got 0";
        QTest::addRow("negative native mac bits") << "/array/native_mac_bits=-8"
                                                  << "field 'array.native_mac_bits' must be positive, got -8";
        QTest::addRow("fractional native mac bits") << "/array/native_mac_bits=8.5"
                                                    << "field 'array.native_mac_bits' must be an integer";
        QTest::addRow("native mac bits as string") << "/array/native_mac_bits=\"16\""
                                                   << "field 'array.native_mac_bits' must be an integer, got string";
        QTest::addRow("native mac bits too wide") << "/array/native_mac_bits=65"
                                                  << "field 'array.native_mac_bits' must be at most 64, got 65";
        QTest::addRow("version-1 mac_bits name") << "/array/mac_bits=16"
                                                 << "field 'array.mac_bits' is named 'array.native_mac_bits'";
        QTest::addRow("per-device ops per mac") << "/array/ops_per_mac=1"
                                                << "field 'array.ops_per_mac' is not read since version 2: every device counts 2 ops per MAC";
        QTest::addRow("negative ifmap buffer") << "/buffers/ifmap_bytes=-1" << "field 'buffers.ifmap_bytes' must be positive";
        QTest::addRow("missing filter buffer") << "/buffers/filter_bytes=<delete>" << "missing field 'buffers.filter_bytes'";
        QTest::addRow("missing ofmap buffer") << "/buffers/ofmap_bytes=<delete>" << "missing field 'buffers.ofmap_bytes'";
        QTest::addRow("double_buffered as int") << "/buffers/double_buffered=1"
                                                << "field 'buffers.double_buffered' must be true or false";
        QTest::addRow("missing bandwidth") << "/offchip/bandwidth_gbps=<delete>" << "missing field 'offchip.bandwidth_gbps'";
        QTest::addRow("negative bandwidth") << "/offchip/bandwidth_gbps=-1.0" << "field 'offchip.bandwidth_gbps' must be positive";
        QTest::addRow("negative offchip size") << "/offchip/size_bytes=-4" << "field 'offchip.size_bytes' must be positive";
        QTest::addRow("missing vector unit") << "/vector_unit=<delete>" << "missing field 'vector_unit'";
        QTest::addRow("vector unit not object") << "/vector_unit=4" << "field 'vector_unit' must be an object";
        QTest::addRow("zero vector ops") << "/vector_unit/ops_per_cycle=0" << "field 'vector_unit.ops_per_cycle' must be positive";
        QTest::addRow("missing bits") << "/bits=<delete>" << "missing field 'bits'";
        QTest::addRow("empty bits") << "/bits=[]" << "field 'bits' must list at least one";
        QTest::addRow("negative bit") << "/bits=[8,-4]" << "field 'bits[1]' must be positive, got -4";
        QTest::addRow("repeated bit") << "/bits=[8,8]" << "field 'bits[1]' repeats bit-width 8";
        QTest::addRow("bit as string") << "/bits=[\"8\"]" << "field 'bits[0]' must be an integer, got string";
        QTest::addRow("typo field") << "/array/colls=14" << "unknown field 'array.colls'";
        QTest::addRow("unknown top field") << "/bandwidth=3" << "unknown field 'bandwidth'";
        QTest::addRow("future version") << "/version=3" << "field 'version' is 3; this build reads versions 1 and 2";
        QTest::addRow("wrong schema") << "/schema=\"scalesim\"" << "field 'schema' must be \"autosplit-device\"";
        QTest::addRow("missing name") << "/name=<delete>" << "missing field 'name'";
        QTest::addRow("empty name") << "/name=\"\"" << "field 'name' must not be empty";
    }

    void rejectsBadField() {
        QFETCH(QString, change);
        QFETCH(QString, message);
        const std::string text = mutated(change).dump();
        try {
            parseDevice(text, "board.json");
            QFAIL("accepted an invalid device file");
        } catch (const DeviceError& e) {
            const QString what = QString::fromStdString(e.what());
            QVERIFY2(what.startsWith("board.json: "), qPrintable(what));
            QVERIFY2(what.contains(message), qPrintable(what));
        }
    }

    void rejectsInvalidJson() {
        try {
            parseDevice("{\"schema\": ", "broken.json");
            QFAIL("accepted broken JSON");
        } catch (const DeviceError& e) {
            QVERIFY2(QString(e.what()).startsWith("broken.json: not valid JSON"), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(DeviceError, parseDevice("[1,2]", "array.json"));
    }
};

QTEST_GUILESS_MAIN(TestDevice)
#include "tst_sim_device.moc"
