#include "autosplit/widgets/palette.h"

#include <algorithm>

namespace autosplit::widgets::palette {

QColor edgeFill(int bits) {
    // Lightness falls with bits so a 2-bit layer reads as "thin" next to an 8-bit one.
    const int b = std::clamp(bits, 2, 16);
    const double t = b >= 8 ? 1.0 : double(b - 2) / 6.0;
    const int lightness = int(205 - 75 * t);
    return QColor::fromHsl(208, 150, b > 8 ? 110 : lightness);
}

QColor cloudFill() { return QColor(0xF6, 0xC1, 0x77); }
QColor edgeTerminal() { return QColor(0xD6, 0xE6, 0xF5); }
QColor cloudTerminal() { return QColor(0xFB, 0xE3, 0xBF); }
QColor unplaced() { return QColor(0xE4, 0xE7, 0xEB); }
QColor transmitted() { return QColor(0xD6, 0x27, 0x28); }
QColor selection() { return QColor(0x7B, 0x3F, 0xBF); }
QColor canvas() { return QColor(0xFA, 0xFB, 0xFC); }
QColor edgeSeries() { return QColor(0x3A, 0x7C, 0xC2); }
QColor transmitSeries() { return QColor(0xD6, 0x27, 0x28); }
QColor cloudSeries() { return QColor(0xF0, 0xA2, 0x3B); }
QColor resultsSeries() { return QColor(0x8C, 0x6D, 0xC4); }

QColor textOn(const QColor& background) {
    return background.lightness() < 140 ? QColor(Qt::white) : QColor(0x1F, 0x25, 0x2D);
}

}  // namespace autosplit::widgets::palette
