// util/units.h: link rates in bits per second (decimal prefixes), sizes in bytes (binary when
// formatted), durations in milliseconds, thresholds in percentage points.
#include "autosplit/util/units.h"

#include <QTest>

using namespace autosplit;

class TestUnits : public QObject {
    Q_OBJECT
private slots:
    void parsesRates() {
        QCOMPARE(parseBandwidth("3Mbps"), 3e6);
        QCOMPARE(parseBandwidth("500kbps"), 5e5);
        QCOMPARE(parseBandwidth("1.5Gbps"), 1.5e9);
        QCOMPARE(parseBandwidth("9600bps"), 9600.0);
        QCOMPARE(parseBandwidth("3e6"), 3e6);
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBandwidth("-3Mbps"));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBandwidth("0"));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBandwidth("3Mbit"));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBandwidth("fast"));
    }

    void parsesSizes() {
        QCOMPARE(parseBytes("4GiB"), int64_t(4) << 30);
        QCOMPARE(parseBytes("512MB"), int64_t(512000000));
        QCOMPARE(parseBytes("64KiB"), int64_t(65536));
        QCOMPARE(parseBytes("1024"), int64_t(1024));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBytes("4 parsecs"));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBytes("-1MB"));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBytes("1e30GiB"));
    }

    void parsesDurationsAndThresholds() {
        QCOMPARE(parsePercent("5%"), 5.0);
        QCOMPARE(parsePercent("0.5"), 0.5);
        QVERIFY_THROWS_EXCEPTION(UnitError, parsePercent("120%"));
        QVERIFY_THROWS_EXCEPTION(UnitError, parsePercent("5 points"));
        QCOMPARE(parseMilliseconds("200us"), 0.2);
        QCOMPARE(parseMilliseconds("1.5s"), 1500.0);
        QCOMPARE(parseMilliseconds("0"), 0.0);
        QVERIFY_THROWS_EXCEPTION(UnitError, parseMilliseconds("-1ms"));
    }

    void formatsWithOneConvention() {
        QCOMPARE(formatBandwidth(3e6), std::string("3 Mbps"));
        QCOMPARE(formatBandwidth(1.5e9), std::string("1.5 Gbps"));
        QCOMPARE(formatBandwidth(500), std::string("500 bps"));
        QCOMPARE(formatBytes(int64_t(4) << 30), std::string("4.00 GiB"));
        QCOMPARE(formatBytes(int64_t(3) << 20), std::string("3.00 MiB"));
        QCOMPARE(formatBytes(1536), std::string("1.5 KiB"));
        QCOMPARE(formatBytes(12), std::string("12 B"));
        // What is formatted parses back to the same value.
        QCOMPARE(parseBytes("4.00 GiB"), int64_t(4) << 30);
        QCOMPARE(parseBandwidth("3 Mbps"), 3e6);
    }
};

QTEST_APPLESS_MAIN(TestUnits)
#include "tst_units.moc"
