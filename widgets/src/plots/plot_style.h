// Look shared by every plot of this folder (private to widgets/src/plots).
#pragma once

#include <qcustomplot.h>

namespace autosplit::widgets::plotstyle {

// Canvas, axis pens, grid and tick fonts of the explorer's plots.
void styleAxes(QCustomPlot* p);
// Legend in a row under the axis rect, laid out horizontally, so it never covers data.
void legendBelow(QCustomPlot* p);

}  // namespace autosplit::widgets::plotstyle
