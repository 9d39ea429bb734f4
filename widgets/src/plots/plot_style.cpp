#include "plot_style.h"

#include "autosplit/widgets/palette.h"

namespace autosplit::widgets::plotstyle {

void styleAxes(QCustomPlot* p) {
    p->setBackground(palette::canvas());
    p->axisRect()->setBackground(Qt::white);
    for (QCPAxis* a : {p->xAxis, p->yAxis}) {
        a->setBasePen(QPen(QColor(150, 155, 162)));
        a->setTickPen(QPen(QColor(150, 155, 162)));
        a->setSubTickPen(QPen(QColor(190, 195, 200)));
        a->grid()->setPen(QPen(QColor(228, 231, 235), 1, Qt::DotLine));
        QFont f = a->tickLabelFont();
        f.setPointSizeF(8);
        a->setTickLabelFont(f);
        f.setPointSizeF(8.5);
        a->setLabelFont(f);
    }
    p->setNoAntialiasingOnDrag(true);
}

void legendBelow(QCustomPlot* p) {
    p->legend->setVisible(true);
    p->legend->setFont(p->xAxis->tickLabelFont());
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setBrush(Qt::NoBrush);
    p->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    p->legend->setWrap(4);
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->addElement(p->plotLayout()->rowCount(), 0, p->legend);
    p->plotLayout()->setRowStretchFactor(p->plotLayout()->rowCount() - 1, 0.001);
    p->legend->setMargins(QMargins(4, 0, 4, 2));
}

}  // namespace autosplit::widgets::plotstyle
