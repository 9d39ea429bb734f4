// Human-readable numbers shared by every widget (one style: "1.23 MB", "4.5 ms", "3.1 GMAC").
#pragma once

#include <QString>

#include <cstdint>

namespace autosplit::widgets::format {

QString bytes(int64_t bytes);        // decimal units: kB, MB, GB (what link speeds use)
QString count(double value);         // 1.2 K, 3.4 M, 5.6 G
QString milliseconds(double ms);     // "0.42 ms", "12.3 ms", "1.20 s"
QString mbps(double mbps);           // "0.27 Mbps", "10 Mbps", "1 Gbps"
QString mebibytes(double mib);       // edge memory: "512 KiB", "64 MiB", "2 GiB"

}  // namespace autosplit::widgets::format
