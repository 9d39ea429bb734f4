#include "autosplit/widgets/dag/dag_view.h"

#include "autosplit/widgets/format.h"
#include "autosplit/widgets/palette.h"

#include <QFontMetricsF>
#include <QGraphicsItem>
#include <QGraphicsPathItem>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QPainter>
#include <QScrollBar>
#include <QStyleOptionGraphicsItem>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>
#include <set>

namespace autosplit::widgets {

namespace {

constexpr double kNodeHeight = 40.0;
constexpr double kMinNodeWidth = 92.0;
constexpr double kPad = 10.0;

QFont opFont() {
    QFont f;
    f.setPointSizeF(9.0);
    f.setBold(true);
    return f;
}

QFont detailFont() {
    QFont f;
    f.setPointSizeF(7.5);
    return f;
}

}  // namespace

class DagNodeItem : public QGraphicsItem {
public:
    DagNodeItem(int index, QString title, QString detail, QSizeF size, bool terminal)
        : index_(index), title_(std::move(title)), detail_(std::move(detail)), size_(size), terminal_(terminal) {
        setFlag(ItemIsSelectable);
        setAcceptHoverEvents(true);
        setCacheMode(DeviceCoordinateCache);
    }
    QRectF boundingRect() const override {
        return QRectF(-size_.width() / 2 - 2, -size_.height() / 2 - 2, size_.width() + 4, size_.height() + 4);
    }
    void paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) override {
        const QRectF r(-size_.width() / 2, -size_.height() / 2, size_.width(), size_.height());
        const double lod = option->levelOfDetailFromTransform(p->worldTransform());
        const bool sel = isSelected();
        p->setPen(QPen(sel ? palette::selection() : fill_.darker(150), sel ? 2.5 : 1.0));
        p->setBrush(fill_);
        const double radius = terminal_ ? size_.height() / 2 : 4.0;
        p->drawRoundedRect(r, radius, radius);
        if (lod < 0.3) return;  // text unreadable at this zoom: boxes only
        const QColor ink = palette::textOn(fill_);
        p->setPen(ink);
        p->setFont(opFont());
        QRectF top = r.adjusted(kPad / 2, 3, -kPad / 2, -r.height() / 2);
        p->drawText(top, Qt::AlignHCenter | Qt::AlignBottom, title_);
        p->setFont(detailFont());
        QRectF bottom = r.adjusted(kPad / 2, r.height() / 2 + 1, -kPad / 2, -3);
        p->drawText(bottom, Qt::AlignHCenter | Qt::AlignTop, detail_);
        if (!badge_.isEmpty()) {
            QFont bf = detailFont();
            bf.setPointSizeF(6.5);
            p->setFont(bf);
            const QFontMetricsF fm(bf);
            const double w = fm.horizontalAdvance(badge_) + 6, h = fm.height();
            const QRectF b(r.right() - w + 2, r.top() - h / 2, w, h);
            p->setPen(Qt::NoPen);
            p->setBrush(QColor(255, 255, 255, 235));
            p->drawRoundedRect(b, 3, 3);
            p->setPen(fill_.darker(170));
            p->drawText(b, Qt::AlignCenter, badge_);
        }
    }
    void setLook(const QColor& fill, const QString& badge) {
        if (fill == fill_ && badge == badge_) return;
        fill_ = fill;
        badge_ = badge;
        update();
    }
    int index() const { return index_; }
    const QColor& fill() const { return fill_; }
    const QString& badge() const { return badge_; }

private:
    int index_;
    QString title_, detail_, badge_;
    QSizeF size_;
    bool terminal_;
    QColor fill_ = palette::unplaced();
};

class DagEdgeItem : public QGraphicsPathItem {
public:
    explicit DagEdgeItem(const std::vector<QPointF>& pts) {
        QPainterPath path;
        if (pts.size() >= 2) {
            path.moveTo(pts[0]);
            size_t k = 1;
            for (; k + 2 < pts.size(); k += 3) path.cubicTo(pts[k], pts[k + 1], pts[k + 2]);
            for (; k < pts.size(); ++k) path.lineTo(pts[k]);
            // Arrow head along the last segment.
            const QPointF tip = pts.back();
            QPointF from = pts[pts.size() - 2];
            if (QLineF(from, tip).length() < 0.5 && pts.size() >= 3) from = pts[pts.size() - 3];
            QLineF dir(tip, from);
            if (dir.length() > 0.1) {
                dir.setLength(7);
                QLineF left = dir, right = dir;
                left.setAngle(dir.angle() + 22);
                right.setAngle(dir.angle() - 22);
                arrow_ << tip << left.p2() << right.p2();
            }
        }
        setPath(path);
        setZValue(-1);
        setHighlighted(false);
    }
    void setHighlighted(bool on) {
        highlighted_ = on;
        setPen(on ? QPen(palette::transmitted(), 3.2) : QPen(QColor(120, 128, 140), 1.1));
        setZValue(on ? 0.5 : -1);
    }
    QPointF midpoint() const { return path().pointAtPercent(0.5); }
    void paint(QPainter* p, const QStyleOptionGraphicsItem* o, QWidget* w) override {
        QGraphicsPathItem::paint(p, o, w);
        if (arrow_.isEmpty()) return;
        p->setPen(Qt::NoPen);
        p->setBrush(pen().color());
        p->drawPolygon(arrow_);
    }
    QRectF boundingRect() const override { return QGraphicsPathItem::boundingRect().united(arrow_.boundingRect()).adjusted(-2, -2, 2, 2); }

private:
    QPolygonF arrow_;
    bool highlighted_ = false;
};

DagView::DagView(QWidget* parent) : QGraphicsView(parent) {
    pool_.setMaxThreadCount(1);
    setScene(new QGraphicsScene(this));
    setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
    setDragMode(QGraphicsView::ScrollHandDrag);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setResizeAnchor(QGraphicsView::AnchorViewCenter);
    setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
    setBackgroundBrush(palette::canvas());
    setFocusPolicy(Qt::StrongFocus);
    connect(scene(), &QGraphicsScene::selectionChanged, this, [this] {
        const auto items = scene()->selectedItems();
        int node = -1;
        for (auto* it : items)
            if (auto* n = dynamic_cast<DagNodeItem*>(it); n && model_ && n->index() < model_->layerCount()) node = n->index();
        if (node == selected_) return;
        selected_ = node;
        emit nodeSelected(node);
    });
}

DagView::~DagView() {
    layoutJob_.shutdown();
    // The scene clears its selection while it is destroyed: nobody may hear about that.
    disconnect(scene(), nullptr, this, nullptr);
    blockSignals(true);
}

void DagView::setModel(std::shared_ptr<const engine::ModelData> model) {
    model_ = std::move(model);
    layoutReady_ = false;
    scene()->clear();
    nodeItems_.clear();
    edgeItems_.clear();
    cutLabels_.clear();
    cutLine_ = nullptr;
    terminals_.clear();
    edgeTensor_.clear();
    selected_ = -1;
    lastFindHit_ = -1;
    if (!model_) {
        layoutJob_.cancel();
        return;
    }

    // Step 1 (UI thread): measure the nodes and collect the edges.
    const Graph& g = model_->graph;
    const int n = model_->layerCount();
    for (int t : g.inputs) terminals_.push_back({t, true});
    for (int t : g.outputs) terminals_.push_back({t, false});
    const QFontMetricsF opMetrics(opFont()), detailMetrics(detailFont());
    DagLayoutInput in;
    in.nodeSizes.reserve(size_t(n) + terminals_.size());
    auto measure = [&](const QString& title, const QString& detail) {
        const double w = std::max({kMinNodeWidth, opMetrics.horizontalAdvance(title) + 2 * kPad,
                                   detailMetrics.horizontalAdvance(detail) + 2 * kPad});
        return QSizeF(std::ceil(w), kNodeHeight);
    };
    std::vector<std::pair<QString, QString>> texts;
    for (int i = 0; i < n; ++i) {
        const Node& node = g.nodes[size_t(i)];
        QString title = QString::fromStdString(node.op);
        if (!node.activation.isNone()) title += QStringLiteral(" + ") + QString::fromStdString(node.activation.describe());
        const int out0 = node.outputs.empty() ? -1 : node.outputs[0];
        const QString detail = out0 >= 0 ? engine::shapeText(g.tensors[size_t(out0)].shape) : QString();
        texts.emplace_back(title, detail);
        in.nodeSizes.push_back(measure(title, detail));
    }
    std::vector<int> terminalOf(g.tensors.size(), -1);  // input tensor -> layout node
    for (size_t k = 0; k < terminals_.size(); ++k) {
        const Tensor& t = g.tensors[size_t(terminals_[k].tensor)];
        const QString title = (terminals_[k].input ? QStringLiteral("input ") : QStringLiteral("output ")) +
                              QString::fromStdString(t.name);
        texts.emplace_back(title, engine::shapeText(t.shape));
        in.nodeSizes.push_back(measure(title, texts.back().second));
        if (terminals_[k].input) terminalOf[size_t(terminals_[k].tensor)] = n + int(k);
    }
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        const Tensor& tensor = g.tensors[t];
        if (tensor.isWeight()) continue;
        const int from = tensor.producer >= 0 ? tensor.producer : terminalOf[t];
        if (from < 0) continue;
        std::set<int> seen;
        for (int c : tensor.consumers)
            if (seen.insert(c).second) {
                in.edges.emplace_back(from, c);
                edgeTensor_.push_back(int(t));
            }
    }
    for (size_t k = 0; k < terminals_.size(); ++k) {
        if (terminals_[k].input) continue;
        const int producer = g.tensors[size_t(terminals_[k].tensor)].producer;
        if (producer < 0) continue;
        in.edges.emplace_back(producer, n + int(k));
        edgeTensor_.push_back(terminals_[k].tensor);
    }

    // Items now (hidden until positioned), so placement updates work before the layout lands.
    for (size_t i = 0; i < texts.size(); ++i) {
        auto* item = new DagNodeItem(int(i), texts[i].first, texts[i].second, in.nodeSizes[i], int(i) >= n);
        item->setToolTip(int(i) < n ? QString::fromStdString(g.nodes[i].name) : texts[i].first);
        item->setVisible(false);
        scene()->addItem(item);
        nodeItems_.push_back(item);
    }

    // Step 2 (worker): the pure layout function.
    const int limit = graphvizLimit_;
    emit layoutStarted(int(in.nodeSizes.size()));
    layoutJob_.start([in = std::move(in), limit](const engine::JobContext& job) { return layoutDag(in, job.cancel, limit); },
                     [this](DagLayout layout) { applyLayout(std::move(layout)); },
                     [this](std::exception_ptr e) { emit layoutFailed(engine::describeException(e)); });
    applyPlacement();
}

// Step 3 (UI thread): apply positions.
void DagView::applyLayout(DagLayout layout) {
    layout_ = std::move(layout);
    for (size_t i = 0; i < nodeItems_.size() && i < layout_.centers.size(); ++i) {
        nodeItems_[i]->setPos(layout_.centers[i]);
        nodeItems_[i]->setVisible(true);
    }
    for (auto* e : edgeItems_) delete e;
    edgeItems_.clear();
    edgeItems_.reserve(layout_.edgePaths.size());
    for (const auto& path : layout_.edgePaths) {
        auto* e = new DagEdgeItem(path);
        scene()->addItem(e);
        edgeItems_.push_back(e);
    }
    const QRectF margin = layout_.bounds.adjusted(-60, -40, 60, 40);
    scene()->setSceneRect(margin);
    layoutReady_ = true;
    initialViewPending_ = true;
    applyPlacement();
    showInitialView();
    emit layoutReady(layout_.milliseconds, QString::fromLatin1(methodName(layout_.method)), layout_.note);
}

void DagView::setPlacement(const DagPlacement& placement) {
    placement_ = placement;
    applyPlacement();
}

void DagView::clearCut() {
    for (auto* l : cutLabels_) delete l;
    cutLabels_.clear();
    delete cutLine_;
    cutLine_ = nullptr;
    for (auto* e : edgeItems_) e->setHighlighted(false);
}

void DagView::applyPlacement() {
    if (!model_) return;
    const int n = model_->layerCount();
    const int p = std::clamp(placement_.plan.splitPosition, -1, n - 1);
    for (size_t i = 0; i < nodeItems_.size(); ++i) {
        const int idx = int(i);
        if (idx < n) {
            if (idx <= p) {
                const int w = placement_.plan.weightAt(idx, 8);
                const int a = placement_.plan.activationAt(idx, 8);
                const bool hasWeights = model_->analysis.layers[i].hasWeights();
                nodeItems_[i]->setLook(palette::edgeFill(std::min(w, a)),
                                       hasWeights ? QStringLiteral("w%1a%2").arg(w).arg(a) : QStringLiteral("a%1").arg(a));
            } else {
                nodeItems_[i]->setLook(palette::cloudFill(), QString::number(placement_.cloudBits));
            }
        } else {
            const Terminal& t = terminals_[i - size_t(n)];
            const int producer = model_->graph.tensors[size_t(t.tensor)].producer;
            const bool onEdge = t.input || producer <= p;
            nodeItems_[i]->setLook(onEdge ? palette::edgeTerminal() : palette::cloudTerminal(), QString());
        }
    }

    clearCut();
    if (!layoutReady_) return;
    const SplitInfo& split = model_->split(p);
    const std::set<int> crossing(split.transmitted.begin(), split.transmitted.end());
    std::vector<QPointF> mids;
    std::set<int> labelled;
    for (size_t e = 0; e < edgeItems_.size() && e < edgeTensor_.size(); ++e) {
        const int t = edgeTensor_[e];
        if (!crossing.count(t)) continue;
        const auto& edge = layout_.edgePaths[e];
        if (edge.empty()) continue;
        // Only edges that actually go from the edge side to the cloud side cross the cut.
        const int consumerNode = [&] {
            const QPointF end = edge.back();
            int best = -1;
            double bestD = 1e300;
            for (int c : model_->graph.tensors[size_t(t)].consumers) {
                const double d = QLineF(layout_.centers[size_t(c)], end).length();
                if (d < bestD) bestD = d, best = c;
            }
            return best;
        }();
        if (consumerNode >= 0 && consumerNode <= p) continue;
        edgeItems_[e]->setHighlighted(true);
        const QPointF mid = edgeItems_[e]->midpoint();
        mids.push_back(mid);
        if (!labelled.insert(t).second) continue;
        const Tensor& tensor = model_->graph.tensors[size_t(t)];
        const int bits = tensor.producer < 0 ? placement_.plan.inputBits
                                             : placement_.plan.activationAt(tensor.producer, 8);
        const int64_t bytes = (std::max<int64_t>(tensor.elementCount(), 0) * bits + 7) / 8;
        auto* label = new QGraphicsSimpleTextItem(QStringLiteral("%1  %2 · %3 bit · %4")
                                                      .arg(QString::fromStdString(tensor.name), engine::shapeText(tensor.shape))
                                                      .arg(bits)
                                                      .arg(format::bytes(bytes)));
        QFont f = detailFont();
        f.setBold(true);
        f.setPointSizeF(8);
        label->setFont(f);
        label->setBrush(palette::transmitted().darker(130));
        const QRectF br = label->boundingRect();
        auto* bg = new QGraphicsRectItem(br.adjusted(-4, -2, 4, 2));
        bg->setBrush(QColor(255, 255, 255, 235));
        bg->setPen(QPen(palette::transmitted(), 1));
        bg->setZValue(3);
        label->setParentItem(bg);
        bg->setPos(mid + QPointF(8, -br.height() / 2));
        scene()->addItem(bg);
        cutLabels_.push_back(bg);
    }
    if (!mids.empty()) {
        std::sort(mids.begin(), mids.end(), [](QPointF a, QPointF b) { return a.x() < b.x(); });
        const QRectF r = scene()->sceneRect();
        QPainterPath path(QPointF(r.left(), mids.front().y()));
        for (const QPointF& m : mids) path.lineTo(m);
        path.lineTo(QPointF(r.right(), mids.back().y()));
        cutLine_ = scene()->addPath(path, QPen(palette::transmitted(), 1.6, Qt::DashLine));
        cutLine_->setZValue(2);
    }
    // The first plan after a layout may arrive after it: bring its cut into view once.
    if (initialViewPending_ && cutLine_ && isVisible() && transform().m11() >= 0.79) {
        initialViewPending_ = false;
        centerOn(cutLine_->path().pointAtPercent(0.5));
    }
}

QColor DagView::nodeFill(int node) const {
    return node >= 0 && node < int(nodeItems_.size()) ? nodeItems_[size_t(node)]->fill() : QColor();
}

QString DagView::nodeBadge(int node) const {
    return node >= 0 && node < int(nodeItems_.size()) ? nodeItems_[size_t(node)]->badge() : QString();
}

QPointF DagView::nodeCenter(int node) const {
    return node >= 0 && node < int(nodeItems_.size()) ? nodeItems_[size_t(node)]->pos() : QPointF();
}

QString DagView::transmittedLabelText(int i) const {
    if (i < 0 || i >= int(cutLabels_.size())) return {};
    const auto children = cutLabels_[size_t(i)]->childItems();
    if (children.isEmpty()) return {};
    auto* text = dynamic_cast<QGraphicsSimpleTextItem*>(children.front());
    return text ? text->text() : QString();
}

void DagView::fitToView() {
    if (!layoutReady_ || scene()->sceneRect().isEmpty()) return;
    if (!isVisible() || viewport()->width() < 10) {
        fitPending_ = true;
        return;
    }
    fitPending_ = false;
    fitInView(scene()->sceneRect(), Qt::KeepAspectRatio);
}

// First view of a new layout: the whole graph when it stays legible, otherwise a legible zoom
// centred on the cut (or the inputs), since that is what the user came to see.
void DagView::showInitialView() {
    if (!isVisible() || viewport()->width() < 10) {
        fitPending_ = true;
        return;
    }
    const QRectF r = scene()->sceneRect();
    const double fit = std::min(viewport()->width() / r.width(), viewport()->height() / r.height());
    if (fit >= 0.6) {
        fitToView();
        return;
    }
    fitPending_ = false;
    resetTransform();
    const double s = std::clamp(fit, 0.8, 1.0);
    scale(s, s);
    if (cutLine_) centerOn(cutLine_->path().pointAtPercent(0.5));
    else centerOn(r.center().x(), r.top() + viewport()->height() / (2 * s));
}

void DagView::resizeEvent(QResizeEvent* event) {
    QGraphicsView::resizeEvent(event);
    if (fitPending_) showInitialView();
}

void DagView::zoomBy(double factor) {
    const double s = transform().m11() * factor;
    if (s < 0.02 || s > 8) return;
    scale(factor, factor);
}

void DagView::zoomIn() { zoomBy(1.25); }
void DagView::zoomOut() { zoomBy(0.8); }
void DagView::resetZoom() { resetTransform(); }

void DagView::wheelEvent(QWheelEvent* event) {
    if (event->modifiers() & Qt::ShiftModifier) {  // shift+wheel scrolls sideways
        horizontalScrollBar()->setValue(horizontalScrollBar()->value() - event->angleDelta().y());
        return;
    }
    const double steps = event->angleDelta().y() / 120.0;
    zoomBy(std::pow(1.15, steps));
}

void DagView::selectNode(int node) {
    scene()->clearSelection();
    if (!model_ || node < 0 || node >= int(nodeItems_.size())) return;
    nodeItems_[size_t(node)]->setSelected(true);
    if (layoutReady_) {
        if (transform().m11() < 0.7) {
            resetTransform();
            scale(0.9, 0.9);
        }
        centerOn(nodeItems_[size_t(node)]);
    }
}

bool DagView::findNode(const QString& text) {
    if (!model_ || text.isEmpty()) return false;
    const auto& nodes = model_->graph.nodes;
    const int exact = model_->graph.findNode(text.toStdString());
    if (exact >= 0 && lastFind_ != text) {
        lastFind_ = text;
        lastFindHit_ = exact;
        selectNode(exact);
        return true;
    }
    if (lastFind_ != text) lastFindHit_ = -1;
    lastFind_ = text;
    const int n = int(nodes.size());
    for (int k = 1; k <= n; ++k) {
        const int i = (lastFindHit_ + k + n) % n;
        if (QString::fromStdString(nodes[size_t(i)].name).contains(text, Qt::CaseInsensitive) ||
            QString::fromStdString(nodes[size_t(i)].op).compare(text, Qt::CaseInsensitive) == 0) {
            lastFindHit_ = i;
            selectNode(i);
            return true;
        }
    }
    return false;
}

}  // namespace autosplit::widgets
