// The bundled example loaded through the engine (eyeriss edge, tpu cloud), for widget suites
// that need a real ModelSession. Null when loading does not finish within `timeoutMs`.
#pragma once

#include "autosplit/engine/engine.h"

#include <QSignalSpy>

#include <memory>

inline std::shared_ptr<const autosplit::engine::ModelSession> loadExampleSession(int timeoutMs = 60000) {
    using namespace autosplit;
    engine::Engine e;
    QSignalSpy ok(&e, &engine::Engine::sessionAvailable);
    engine::LoadRequest r;
    r.path = QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL);
    r.edgeDevice = sim::builtinDevice("eyeriss");
    r.cloudDevice = sim::builtinDevice("tpu");
    e.loadModel(r);
    if (!ok.wait(timeoutMs)) return nullptr;
    return e.session();
}
