// Item models over the open session: every layer in a table (sortable through a proxy), and the
// details of one node as property/value rows. Both read immutable snapshots; setting a new
// session or placement resets them.
#pragma once

#include "autosplit/engine/model_session.h"
#include "autosplit/widgets/dag/dag_view.h"

#include <QAbstractTableModel>

#include <memory>

namespace autosplit::widgets {

// Latency of node i on the edge at its placement bits and on the cloud at cloud bits (µs).
struct NodeLatency {
    double edgeUs = 0;
    double cloudUs = 0;
    bool edgeMeasured = false;
    bool cloudMeasured = false;
};
NodeLatency nodeLatency(const engine::ModelSession& s, const DagPlacement& p, int node);

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Index, Name, Op, OutputShape, Weights, Macs, Placement, Bits, EdgeMs, CloudMs, ColumnCount };
    using QAbstractTableModel::QAbstractTableModel;

    void setSession(std::shared_ptr<const engine::ModelSession> session);
    void setPlacement(const DagPlacement& placement);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    std::shared_ptr<const engine::ModelSession> session_;
    DagPlacement placement_;
};

class NodeDetailsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;
    void show(std::shared_ptr<const engine::ModelSession> session, const DagPlacement& placement, int node);
    int node() const { return node_; }
    QString value(const QString& property) const;  // "" when absent

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    std::vector<std::pair<QString, QString>> rows_;
    int node_ = -1;
};

}  // namespace autosplit::widgets
