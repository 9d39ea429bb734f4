#include "autosplit/widgets/layer_models.h"

#include "autosplit/widgets/format.h"
#include "autosplit/widgets/palette.h"

#include <QBrush>
#include <QStringList>

namespace autosplit::widgets {

NodeLatency nodeLatency(const engine::ModelSession& s, const DagPlacement& p, int node) {
    NodeLatency out;
    const auto& edge = s.cost().edgeTable();
    const auto& cloud = s.cost().cloudTable();
    const int wi = edge.bitsIndex(p.plan.weightAt(node, 8));
    const int ai = edge.bitsIndex(p.plan.activationAt(node, 8));
    if (wi >= 0 && ai >= 0) {
        const auto e = edge.entry(node, wi, ai);
        out.edgeUs = e.us;
        out.edgeMeasured = e.origin == sim::LatencyOrigin::Measured;
    }
    const int ci = cloud.bitsIndex(p.cloudBits);
    if (ci >= 0) {
        const auto c = cloud.entry(node, ci, ci);
        out.cloudUs = c.us;
        out.cloudMeasured = c.origin == sim::LatencyOrigin::Measured;
    }
    return out;
}

void LayerTableModel::setSession(std::shared_ptr<const engine::ModelSession> session) {
    beginResetModel();
    session_ = std::move(session);
    endResetModel();
}

void LayerTableModel::setPlacement(const DagPlacement& placement) {
    placement_ = placement;
    if (rowCount() > 0) emit dataChanged(index(0, Placement), index(rowCount() - 1, ColumnCount - 1));
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !session_ ? 0 : session_->model->layerCount();
}

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* const names[] = {"#", "Layer", "Op", "Output", "Weights", "MACs", "Runs on", "Bits", "Edge ms", "Cloud ms"};
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!session_ || !index.isValid() || index.row() >= rowCount()) return {};
    const int i = index.row();
    const LayerInfo& L = session_->model->analysis.layers[size_t(i)];
    const bool onEdge = i <= placement_.plan.splitPosition;
    if (role == Qt::TextAlignmentRole)
        return index.column() == Name || index.column() == Op || index.column() == OutputShape || index.column() == Placement
                   ? QVariant(int(Qt::AlignLeft | Qt::AlignVCenter))
                   : QVariant(int(Qt::AlignRight | Qt::AlignVCenter));
    if (role == Qt::BackgroundRole && index.column() == Placement)
        return QBrush(onEdge ? palette::edgeFill(placement_.plan.activationAt(i, 8)).lighter(125)
                             : palette::cloudFill().lighter(115));
    const bool sortRole = role == Qt::UserRole;
    if (role != Qt::DisplayRole && !sortRole) return {};
    switch (index.column()) {
    case Index: return i;
    case Name: return QString::fromStdString(L.name);
    case Op: return QString::fromStdString(L.op);
    case OutputShape: return engine::shapeText(L.outputShape);
    case Weights: return sortRole ? QVariant(qlonglong(L.weights)) : QVariant(format::count(double(L.weights)));
    case Macs: return sortRole ? QVariant(qlonglong(L.macs)) : QVariant(format::count(double(L.macs)));
    case Placement: return onEdge ? tr("edge") : tr("cloud");
    case Bits:
        return onEdge ? QStringLiteral("w%1a%2")
                            .arg(placement_.plan.weightAt(i, 8))
                            .arg(placement_.plan.activationAt(i, 8))
                      : QStringLiteral("fp%1").arg(placement_.cloudBits);
    case EdgeMs: {
        const double ms = nodeLatency(*session_, placement_, i).edgeUs / 1000.0;
        return sortRole ? QVariant(ms) : QVariant(QString::number(ms, 'f', 4));
    }
    case CloudMs: {
        const double ms = nodeLatency(*session_, placement_, i).cloudUs / 1000.0;
        return sortRole ? QVariant(ms) : QVariant(QString::number(ms, 'f', 4));
    }
    default: return {};
    }
}

// ---------------------------------------------------------------------------------------------

void NodeDetailsModel::show(std::shared_ptr<const engine::ModelSession> session, const DagPlacement& placement, int node) {
    beginResetModel();
    rows_.clear();
    node_ = -1;
    if (session && node >= 0 && node < session->model->layerCount()) {
        node_ = node;
        const Graph& g = session->model->graph;
        const Node& n = g.nodes[size_t(node)];
        const LayerInfo& L = session->model->analysis.layers[size_t(node)];
        auto add = [this](const QString& k, const QString& v) { rows_.emplace_back(k, v); };
        add(tr("Name"), QString::fromStdString(n.name));
        add(tr("Op"), QString::fromStdString(n.op) +
                          (n.activation.isNone() ? QString() : QStringLiteral(" + ") + QString::fromStdString(n.activation.describe())));
        if (!n.fusedFrom.empty()) {
            QStringList fused;
            for (const auto& f : n.fusedFrom) fused << QString::fromStdString(f);
            add(tr("Fused"), fused.join(QStringLiteral(", ")));
        }
        add(tr("Schedule index"), QString::number(node));
        QStringList ins, wts;
        for (int t : n.inputs) {
            if (t < 0) continue;
            const Tensor& tensor = g.tensors[size_t(t)];
            const QString text = QStringLiteral("%1 %2").arg(QString::fromStdString(tensor.name), engine::shapeText(tensor.shape));
            (tensor.isWeight() ? wts : ins) << text;
        }
        QStringList outs;
        for (int t : n.outputs)
            if (t >= 0) outs << QStringLiteral("%1 %2").arg(QString::fromStdString(g.tensors[size_t(t)].name),
                                                          engine::shapeText(g.tensors[size_t(t)].shape));
        add(tr("Inputs"), ins.join(QStringLiteral("\n")));
        add(tr("Outputs"), outs.join(QStringLiteral("\n")));
        if (!wts.isEmpty()) add(tr("Weight tensors"), wts.join(QStringLiteral("\n")));
        add(tr("Weights"), QStringLiteral("%1 (%2 bias)").arg(format::count(double(L.weights)), format::count(double(L.weightBiasElements))));
        add(tr("MACs"), format::count(double(L.macs)));
        const bool onEdge = node <= placement.plan.splitPosition;
        add(tr("Runs on"), onEdge ? QStringLiteral("edge (%1)").arg(QString::fromStdString(session->devices.edge.name))
                                  : QStringLiteral("cloud (%1)").arg(QString::fromStdString(session->devices.cloud.name)));
        const int wb = placement.plan.weightAt(node, 8);
        const int ab = placement.plan.activationAt(node, 8);
        add(tr("Bits"), onEdge ? QStringLiteral("weights %1, activations %2").arg(wb).arg(ab)
                               : QStringLiteral("float%1").arg(placement.cloudBits));
        const NodeLatency lat = nodeLatency(*session, placement, node);
        add(tr("Edge latency"), QStringLiteral("%1 at w%2a%3 (%4)")
                                    .arg(format::milliseconds(lat.edgeUs / 1000.0))
                                    .arg(wb)
                                    .arg(ab)
                                    .arg(lat.edgeMeasured ? tr("measured") : tr("simulated")));
        add(tr("Cloud latency"), QStringLiteral("%1 at %2 bit (%3)")
                                     .arg(format::milliseconds(lat.cloudUs / 1000.0))
                                     .arg(placement.cloudBits)
                                     .arg(lat.cloudMeasured ? tr("measured") : tr("simulated")));
        const SplitInfo& split = session->model->split(node);
        add(tr("Split here sends"), QStringLiteral("%1 tensor(s), %2 values").arg(split.transmitted.size()).arg(format::count(double(split.transmittedElements))));
    }
    endResetModel();
}

QString NodeDetailsModel::value(const QString& property) const {
    for (const auto& [k, v] : rows_)
        if (k == property) return v;
    return {};
}

int NodeDetailsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }
int NodeDetailsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : 2; }

QVariant NodeDetailsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(rows_.size()) || index.column() > 1) return {};
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
    const auto& row = rows_[size_t(index.row())];
    return index.column() == 0 ? row.first : row.second;
}

QVariant NodeDetailsModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    return section == 0 ? tr("Property") : section == 1 ? tr("Value") : QVariant();
}

}  // namespace autosplit::widgets
