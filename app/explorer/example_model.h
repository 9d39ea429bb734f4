// Which model the window opens when started without an argument.
#pragma once

#include "autosplit/engine/model_session.h"

#include <QString>

namespace autosplit::explorer {

struct ExampleModel {
    QString path;                  // empty when nothing was found
    engine::InputBindings inputs;  // PP-OCR det has symbolic dims: bound to 1x3x640x640
    QString description;
};

// The fetched PP-OCRv4 det model ($AUTOSPLIT_MODELS or the build's models folder), else the
// example generated at build time: next to the build tree, or <prefix>/share/autosplit after
// `cmake --install` (found relative to the executable, so the install prefix may move).
ExampleModel findExampleModel();
// Only the generated example (tests use it for a fixed picture).
QString generatedExamplePath();

}  // namespace autosplit::explorer
