#include "session_file.h"

#include "autosplit/util/errors.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <cmath>

namespace autosplit::explorer {

namespace {

[[noreturn]] void fail(const QString& where, const QString& what) { throw Error((where + QStringLiteral(": ") + what).toStdString()); }

QJsonValue require(const QJsonObject& o, const char* key, const QString& where) {
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined()) fail(where, QStringLiteral("missing field '%1'").arg(QLatin1String(key)));
    return v;
}

double number(const QJsonObject& o, const char* key, const QString& where) {
    const QJsonValue v = require(o, key, where);
    if (!v.isDouble()) fail(where, QStringLiteral("field '%1' must be a number").arg(QLatin1String(key)));
    return v.toDouble();
}

QString text(const QJsonObject& o, const char* key, const QString& where) {
    const QJsonValue v = require(o, key, where);
    if (!v.isString()) fail(where, QStringLiteral("field '%1' must be a string").arg(QLatin1String(key)));
    return v.toString();
}

}  // namespace

QByteArray sessionToJson(const SessionFile& s) {
    QJsonObject o;
    o[QStringLiteral("schema")] = QStringLiteral("autosplit-explorer-session");
    o[QStringLiteral("version")] = SessionFile::kVersion;
    o[QStringLiteral("model")] = s.modelPath;
    o[QStringLiteral("inputs")] = engine::bindingsText(s.inputs);
    o[QStringLiteral("edge_device")] = s.edgeDevice;
    o[QStringLiteral("cloud_device")] = s.cloudDevice;
    o[QStringLiteral("uplink_mbps")] = s.request.constraints.uplinkBps / 1e6;
    o[QStringLiteral("edge_memory_mib")] = double(s.request.constraints.edgeMemoryBytes) / double(1 << 20);
    o[QStringLiteral("max_drop_percent")] = s.request.constraints.maxDropPercent;
    o[QStringLiteral("results_at")] = QString::fromLatin1(planner::resultsAtName(s.request.constraints.resultsAt));
    o[QStringLiteral("downlink_mbps")] = s.request.constraints.downlinkBps / 1e6;
    QJsonArray bits;
    for (int b : s.request.bitSet) bits.append(b);
    o[QStringLiteral("bits")] = bits;
    o[QStringLiteral("selected_split")] = s.pinnedSplit ? QJsonValue(*s.pinnedSplit) : QJsonValue(QJsonValue::Null);
    QJsonObject data;
    data[QStringLiteral("folder")] = QString::fromStdString(s.data.folder);
    data[QStringLiteral("labels")] = QString::fromStdString(s.data.labels);
    data[QStringLiteral("dictionary")] = QString::fromStdString(s.data.dictionary);
    data[QStringLiteral("preprocess")] = QString::fromStdString(s.data.preprocess);
    data[QStringLiteral("synthetic")] = s.data.synthetic;
    data[QStringLiteral("calibration_samples")] = s.data.calibrationSamples;
    data[QStringLiteral("measurement_samples")] = s.data.measurementSamples;
    o[QStringLiteral("data")] = data;
    return QJsonDocument(o).toJson(QJsonDocument::Indented);
}

SessionFile sessionFromJson(const QByteArray& json, const QString& where) {
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    if (doc.isNull()) fail(where, QStringLiteral("not JSON (%1 at offset %2)").arg(err.errorString()).arg(err.offset));
    if (!doc.isObject()) fail(where, QStringLiteral("expected a JSON object"));
    const QJsonObject o = doc.object();
    if (text(o, "schema", where) != QLatin1String("autosplit-explorer-session"))
        fail(where, QStringLiteral("field 'schema' must be \"autosplit-explorer-session\""));
    if (int(number(o, "version", where)) != SessionFile::kVersion)
        fail(where, QStringLiteral("unsupported session version %1").arg(o.value(QStringLiteral("version")).toDouble()));
    SessionFile s;
    s.modelPath = text(o, "model", where);
    try {
        s.inputs = engine::parseBindings(text(o, "inputs", where));
    } catch (const std::exception& e) {
        fail(where, QStringLiteral("field 'inputs': %1").arg(QString::fromUtf8(e.what())));
    }
    s.edgeDevice = text(o, "edge_device", where);
    s.cloudDevice = text(o, "cloud_device", where);
    const double mbps = number(o, "uplink_mbps", where);
    const double mib = number(o, "edge_memory_mib", where);
    if (!(mbps > 0) || !std::isfinite(mbps)) fail(where, QStringLiteral("field 'uplink_mbps' must be positive"));
    if (!(mib > 0) || !(mib < 1e12)) fail(where, QStringLiteral("field 'edge_memory_mib' must be positive"));
    s.request.constraints.uplinkBps = mbps * 1e6;
    s.request.constraints.edgeMemoryBytes = int64_t(std::llround(mib * double(1 << 20)));
    s.request.constraints.maxDropPercent = number(o, "max_drop_percent", where);
    if (!(s.request.constraints.maxDropPercent >= 0 && s.request.constraints.maxDropPercent <= 100))
        fail(where, QStringLiteral("field 'max_drop_percent' must be within 0..100"));
    // results_at and downlink_mbps are absent in sessions saved before results were costed: defaults.
    if (o.contains(QStringLiteral("results_at"))) {
        const auto at = planner::resultsAtFromName(text(o, "results_at", where).toStdString());
        if (!at) fail(where, QStringLiteral("field 'results_at' must be \"edge\" or \"cloud\""));
        s.request.constraints.resultsAt = *at;
    }
    if (o.contains(QStringLiteral("downlink_mbps"))) {
        const double down = number(o, "downlink_mbps", where);
        if (!(down > 0) || !std::isfinite(down)) fail(where, QStringLiteral("field 'downlink_mbps' must be positive"));
        s.request.constraints.downlinkBps = down * 1e6;
    }
    const QJsonValue bits = require(o, "bits", where);
    if (!bits.isArray()) fail(where, QStringLiteral("field 'bits' must be an array"));
    s.request.bitSet.clear();
    for (const QJsonValue& b : bits.toArray()) {
        if (!b.isDouble() || b.toInt() < 1 || b.toInt() > 32) fail(where, QStringLiteral("field 'bits' holds a width outside 1..32"));
        s.request.bitSet.push_back(b.toInt());
    }
    if (const QJsonValue d = o.value(QStringLiteral("data")); !d.isUndefined()) {
        if (!d.isObject()) fail(where, QStringLiteral("field 'data' must be an object"));
        const QJsonObject dj = d.toObject();
        const QString dw = where + QStringLiteral(": data");
        s.data.folder = text(dj, "folder", dw).toStdString();
        s.data.labels = text(dj, "labels", dw).toStdString();
        s.data.dictionary = text(dj, "dictionary", dw).toStdString();
        s.data.preprocess = text(dj, "preprocess", dw).toStdString();
        auto count = [&](const char* key, int min) {
            const double v = number(dj, key, dw);
            if (!(v >= min && v <= 1e6) || v != std::floor(v))
                fail(dw, QStringLiteral("field '%1' must be a whole number >= %2").arg(QLatin1String(key)).arg(min));
            return int(v);
        };
        s.data.synthetic = count("synthetic", 2);
        s.data.calibrationSamples = count("calibration_samples", 0);
        s.data.measurementSamples = count("measurement_samples", 0);
    }
    const QJsonValue sel = o.value(QStringLiteral("selected_split"));
    if (sel.isDouble()) s.pinnedSplit = sel.toInt();
    else if (!sel.isNull() && !sel.isUndefined()) fail(where, QStringLiteral("field 'selected_split' must be a number or null"));
    return s;
}

void saveSession(const SessionFile& s, const QString& path) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) fail(path, f.errorString());
    f.write(sessionToJson(s));
    if (!f.commit()) fail(path, f.errorString());
}

SessionFile loadSession(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) fail(path, f.errorString());
    return sessionFromJson(f.readAll(), path);
}

}  // namespace autosplit::explorer
