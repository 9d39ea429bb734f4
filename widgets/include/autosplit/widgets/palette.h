// One colour language across the DAG, the plots and the legend: edge = blue (deeper for more
// bits), cloud = warm amber, transmitted tensors = red, selection = violet.
#pragma once

#include <QColor>

namespace autosplit::widgets::palette {

QColor edgeFill(int bits);   // 2..16 bits: light to deep blue
QColor cloudFill();
QColor edgeTerminal();
QColor cloudTerminal();
QColor unplaced();
QColor transmitted();
QColor selection();
QColor canvas();
QColor edgeSeries();      // plot series: edge compute
QColor transmitSeries();  // plot series: transmission
QColor cloudSeries();     // plot series: cloud compute
QColor resultsSeries();   // plot series: results moved to where they are consumed
QColor textOn(const QColor& background);

}  // namespace autosplit::widgets::palette
