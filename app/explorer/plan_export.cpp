#include "plan_export.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace autosplit::explorer {

namespace {

QString csvField(QString s) {
    if (s.contains(QLatin1Char(',')) || s.contains(QLatin1Char('"')) || s.contains(QLatin1Char('\n')))
        s = QLatin1Char('"') + s.replace(QLatin1Char('"'), QStringLiteral("\"\"")) + QLatin1Char('"');
    return s;
}

QString kindOf(const engine::ModelSession& s, int position) {
    if (position < 0) return QStringLiteral("CLOUD_ONLY");
    if (position >= s.model->layerCount() - 1) return QStringLiteral("EDGE_ONLY");
    return QStringLiteral("SPLIT");
}

QJsonObject costJson(const engine::ModelSession& s, const planner::SplitCost& c) {
    QJsonObject o;
    o[QStringLiteral("kind")] = kindOf(s, c.position);
    o[QStringLiteral("split_position")] = c.position;
    o[QStringLiteral("split_after")] =
        c.position >= 0 ? QString::fromStdString(s.model->graph.nodes[size_t(c.position)].name) : QString();
    o[QStringLiteral("edge_bits")] = QStringLiteral("w%1a%1").arg(c.bits);
    QJsonArray sent;
    for (int t : s.model->split(c.position).transmitted) {
        const Tensor& tensor = s.model->graph.tensors[size_t(t)];
        sent.append(QJsonObject{{QStringLiteral("tensor"), QString::fromStdString(tensor.name)},
                                {QStringLiteral("shape"), engine::shapeText(tensor.shape)},
                                {QStringLiteral("bits"), tensor.producer < 0 ? s.cost().inputBits() : c.bits}});
    }
    o[QStringLiteral("transmitted")] = sent;
    o[QStringLiteral("transmitted_bytes")] = double((c.transmitBits + 7) / 8);
    o[QStringLiteral("latency_ms")] = QJsonObject{{QStringLiteral("edge"), c.latency.edgeMs},
                                                  {QStringLiteral("transmit"), c.latency.transmitMs},
                                                  {QStringLiteral("cloud"), c.latency.cloudMs},
                                                  {QStringLiteral("results"), c.latency.resultsMs},
                                                  {QStringLiteral("total"), c.latency.totalMs},
                                                  {QStringLiteral("edge_origin"), QString::fromStdString(c.latency.edgeOrigin)},
                                                  {QStringLiteral("cloud_origin"), QString::fromStdString(c.latency.cloudOrigin)}};
    o[QStringLiteral("edge_memory_bytes")] = double(c.edgeWeightBytes() + c.edgeActivationBytes());
    o[QStringLiteral("fits_memory")] = c.fitsMemory;
    return o;
}

}  // namespace

QByteArray splitsCsv(const engine::ModelSession& s, const engine::SplitEstimates& e) {
    QByteArray out = "position,kind,split_after,edge_bits,transmitted_bytes,edge_ms,transmit_ms,cloud_ms,total_ms,"
                     "edge_memory_bytes,fits_memory,selected\n";
    for (const planner::SplitCost& c : e.splits) {
        const QString after = c.position >= 0 ? QString::fromStdString(s.model->graph.nodes[size_t(c.position)].name) : QString();
        out += QStringLiteral("%1,%2,%3,w%4a%4,%5,%6,%7,%8,%9,%10,%11,%12\n")
                   .arg(c.position)
                   .arg(kindOf(s, c.position), csvField(after))
                   .arg(c.bits)
                   .arg((c.transmitBits + 7) / 8)
                   .arg(c.latency.edgeMs, 0, 'g', 9)
                   .arg(c.latency.transmitMs, 0, 'g', 9)
                   .arg(c.latency.cloudMs, 0, 'g', 9)
                   .arg(c.latency.totalMs, 0, 'g', 9)
                   .arg(c.edgeWeightBytes() + c.edgeActivationBytes())
                   .arg(c.fitsMemory ? 1 : 0)
                   .arg(c.position == e.best ? 1 : 0)
                   .toUtf8();
    }
    return out;
}

QByteArray estimateJson(const engine::ModelSession& s, const engine::SplitEstimates& e, int selectedPosition) {
    QJsonObject o;
    o[QStringLiteral("schema")] = QStringLiteral("autosplit-split-estimate");
    o[QStringLiteral("version")] = 1;
    o[QStringLiteral("model")] = s.model->path;
    o[QStringLiteral("inputs")] = engine::bindingsText(s.model->inputShapes);
    o[QStringLiteral("edge_device")] = QString::fromStdString(s.devices.edge.name);
    o[QStringLiteral("cloud_device")] = QString::fromStdString(s.devices.cloud.name);
    o[QStringLiteral("constraints")] =
        QJsonObject{{QStringLiteral("uplink_bps"), e.request.constraints.uplinkBps},
                    {QStringLiteral("edge_memory_bytes"), double(e.request.constraints.edgeMemoryBytes)},
                    {QStringLiteral("message_overhead_ms"), e.request.constraints.messageOverheadMs},
                    {QStringLiteral("results_at"), QString::fromLatin1(planner::resultsAtName(e.request.constraints.resultsAt))},
                    {QStringLiteral("downlink_bps"), e.request.constraints.downlinkBps}};
    o[QStringLiteral("accuracy")] = QStringLiteral("not modelled (uniform bits)");
    o[QStringLiteral("selected")] = costJson(s, e.at(selectedPosition));
    o[QStringLiteral("baselines")] = QJsonArray{costJson(s, e.cloudOnly()), costJson(s, e.edgeOnly())};
    return QJsonDocument(o).toJson(QJsonDocument::Indented);
}

}  // namespace autosplit::explorer
