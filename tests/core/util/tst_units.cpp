// util/units.h: link rates in bits per second (decimal prefixes; bytes per second parsed with
// bits and bytes told apart by case), sizes in bytes (binary when formatted), durations in milliseconds, thresholds in percentage points.
#include "autosplit/util/units.h"

#include <QTest>

#include <cmath>

using namespace autosplit;

class TestUnits : public QObject {
    Q_OBJECT
private slots:
    void parsesRates_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<double>("bps");
        // Bits per second: lowercase b, decimal prefixes.
        QTest::addRow("plain number") << "3e6" << 3e6;
        QTest::addRow("bps") << "9600bps" << 9600.0;
        QTest::addRow("kbps") << "500kbps" << 5e5;
        QTest::addRow("Kbps") << "500Kbps" << 5e5;
        QTest::addRow("Mbps") << "3Mbps" << 3e6;
        QTest::addRow("Mbps with space") << "3 Mbps" << 3e6;
        QTest::addRow("fractional Mbps") << "0.1Mbps" << 1e5;
        QTest::addRow("Gbps") << "1.5Gbps" << 1.5e9;
        QTest::addRow("bit/s") << "64bit/s" << 64.0;
        QTest::addRow("kbit/s") << "500kbit/s" << 5e5;
        QTest::addRow("Kbit/s") << "500Kbit/s" << 5e5;
        QTest::addRow("Mbit/s") << "10Mbit/s" << 1e7;
        QTest::addRow("Gbit/s") << "2Gbit/s" << 2e9;
        QTest::addRow("b/s") << "300b/s" << 300.0;
        QTest::addRow("kb/s") << "56kb/s" << 56e3;
        QTest::addRow("Mb/s") << "3Mb/s" << 3e6;
        QTest::addRow("Gb/s") << "1Gb/s" << 1e9;
        // Bytes per second: uppercase B, x 8; decimal and binary prefixes.
        QTest::addRow("B/s") << "1000B/s" << 8000.0;
        QTest::addRow("kB/s") << "2kB/s" << 16e3;
        QTest::addRow("KB/s") << "2KB/s" << 16e3;
        QTest::addRow("MB/s") << "3MB/s" << 24e6;
        QTest::addRow("MB/s with space") << "3 MB/s" << 24e6;
        QTest::addRow("GB/s") << "1.5GB/s" << 12e9;
        QTest::addRow("KiB/s") << "1KiB/s" << 8192.0;
        QTest::addRow("MiB/s") << "2MiB/s" << 2 * 8.0 * 1024 * 1024;
        QTest::addRow("GiB/s") << "1GiB/s" << 8.0 * 1024 * 1024 * 1024;
    }
    void parsesRates() {
        QFETCH(QString, text);
        QFETCH(double, bps);
        QCOMPARE(parseBandwidth(text.toStdString()), bps);
    }

    void rejectsBadRates_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");  // part of the error text
        QTest::addRow("negative") << "-3Mbps" << "bandwidth must be positive";
        QTest::addRow("zero") << "0" << "bandwidth must be positive";
        QTest::addRow("no per second") << "3Mbit" << "unknown unit 'Mbit'";
        QTest::addRow("not a number") << "fast" << "is not a number";
        QTest::addRow("empty") << "" << "is not a number";
        QTest::addRow("infinite") << "inf Mbps" << "is not a number";
        QTest::addRow("overflows") << "1e308GB/s" << "too large";
        // Case that makes the unit ambiguous: m is milli, Bps could be bytes or bits.
        QTest::addRow("lowercase m bits") << "3mbps" << "prefix 'm' means milli: write 'Mbps' for megabits";
        QTest::addRow("lowercase m bytes") << "3mB/s" << "prefix 'm' means milli: write 'MB/s' for megabytes";
        QTest::addRow("lowercase mb/s") << "3mb/s" << "write 'Mb/s' for megabits";
        QTest::addRow("lowercase g") << "1gbps" << "write 'Gbps' for gigabits";
        QTest::addRow("MBPS") << "3MBPS" << "'Bps' could be bytes or bits";
        QTest::addRow("MBps") << "3MBps" << "'Bps' could be bytes or bits";
        QTest::addRow("Bps") << "300Bps" << "'Bps' could be bytes or bits";
        QTest::addRow("lowercase kib") << "1kiB/s" << "unknown unit 'kiB/s'";
        QTest::addRow("binary bits") << "1Mibit/s" << "unknown unit 'Mibit/s'";
        QTest::addRow("MBIT/S") << "3MBIT/S" << "unknown unit 'MBIT/S'";
        QTest::addRow("bytes without /s") << "3MB" << "unknown unit 'MB'";
    }
    void rejectsBadRates() {
        QFETCH(QString, text);
        QFETCH(QString, message);
        try {
            parseBandwidth(text.toStdString());
            QFAIL(qPrintable("accepted '" + text + "'"));
        } catch (const UnitError& e) {
            const QString what = QString::fromStdString(e.what());
            QVERIFY2(what.contains(message), qPrintable(what));
            QVERIFY2(what.contains("'" + text + "'"), qPrintable(what));  // names the text
            if (what.contains("unknown unit"))  // and lists what it takes
                QVERIFY2(what.contains("Mbps") && what.contains("MB/s") && what.contains("MiB/s"), qPrintable(what));
        }
    }

    void parsesSizes() {
        QCOMPARE(parseBytes("4GiB"), int64_t(4) << 30);
        QCOMPARE(parseBytes("512MB"), int64_t(512000000));
        QCOMPARE(parseBytes("64KiB"), int64_t(65536));
        QCOMPARE(parseBytes("1024"), int64_t(1024));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBytes("4 parsecs"));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBytes("-1MB"));
        QVERIFY_THROWS_EXCEPTION(UnitError, parseBytes("1e30GiB"));
        QCOMPARE(parseBytes("64kB"), int64_t(64000));
        QCOMPARE(parseBytes("16B"), int64_t(16));
        // A lowercase b is a bit (4Gb = 0.5 GB) and an m is milli: memory sizes refuse them.
        for (const char* bad : {"4Gb", "512mb", "4gib", "64kb", "2mB"}) {
            try {
                parseBytes(bad);
                QFAIL(qPrintable(QStringLiteral("'%1' was accepted").arg(QLatin1String(bad))));
            } catch (const UnitError& e) {
                QVERIFY2(std::string(e.what()).find(bad) != std::string::npos, e.what());
            }
        }
        try {
            parseBytes("4Gb");
        } catch (const UnitError& e) {
            QVERIFY2(std::string(e.what()).find("is bits") != std::string::npos, e.what());
        }
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
        for (double bps : {1.0, 999.0, 9600.0, 5e5, 2.5e6, 3e6, 17.8e6, 1e9, 1.5e9, 40e9}) {
            const std::string text = formatBandwidth(bps);
            QVERIFY2(std::abs(parseBandwidth(text) - bps) <= 1e-6 * bps, text.c_str());
        }
    }
};

QTEST_APPLESS_MAIN(TestUnits)
#include "tst_units.moc"
