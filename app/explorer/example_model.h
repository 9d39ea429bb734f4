// Which model the window opens when started without an argument.
#pragma once

#include "autosplit/engine/model_session.h"

#include <QString>

namespace autosplit::explorer {

struct ExampleModel {
    QString path;                  // empty when nothing was found
    engine::InputBindings inputs;  // PP-OCR det has symbolic dims: bound to 1x3x640x640
    QString description;
    planner::DataSource data;      // the rendered OCR lines for PP-OCRv4 rec; else synthetic
};

// The fetched PP-OCRv4 recognizer with the OCR lines scripts/setup.sh renders next to it
// (MODELS/ocr-lines: images, labels.txt, the dictionary; $AUTOSPLIT_MODELS or the build's
// models folder): a real model on real-looking data with a task metric. Else PP-OCRv4 det (on
// synthetic inputs), else the random-weight example generated at build time (next to the build
// tree, or <prefix>/share/autosplit after `cmake --install`, found relative to the executable),
// which says it is one.
ExampleModel findExampleModel();
// Only the generated example (tests use it for a fixed picture).
QString generatedExamplePath();

}  // namespace autosplit::explorer
