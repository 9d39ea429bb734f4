#include "autosplit/sim/systolic.h"

namespace autosplit::sim {

namespace {
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

void requirePositive(int64_t v, const char* what) {
    if (v <= 0) throw Error(std::string("GEMM geometry: ") + what + " must be positive, got " + std::to_string(v));
}
}  // namespace

double GemmMapping::utilization(int64_t rows, int64_t cols) const {
    return cycles > 0 ? double(macs) / (double(cycles) * double(rows) * double(cols)) : 0.0;
}

int64_t scaleSimOutputSize(int64_t in, int64_t kernel, int64_t stride) {
    return ceilDiv(in - kernel + stride, stride);
}

GemmMapping mapGemm(const GemmGeometry& g, int64_t rows, int64_t cols, Dataflow dataflow) {
    requirePositive(rows, "array rows");
    requirePositive(cols, "array cols");
    requirePositive(g.R, "R");
    requirePositive(g.S, "S");
    requirePositive(g.C, "C");
    requirePositive(g.K, "K");
    requirePositive(g.E, "E");
    requirePositive(g.F, "F");
    requirePositive(g.groups, "groups");
    requirePositive(g.batch, "batch");

    const int64_t pixels = g.batch * g.E * g.F;
    const int64_t window = g.R * g.S * g.C;
    GemmMapping m;
    switch (dataflow) {
    case Dataflow::OutputStationary: m.Sr = pixels, m.Sc = g.K, m.T = window; break;
    case Dataflow::WeightStationary: m.Sr = window, m.Sc = g.K, m.T = pixels; break;
    case Dataflow::InputStationary: m.Sr = window, m.Sc = pixels, m.T = g.K; break;
    }
    m.rowFolds = ceilDiv(m.Sr, rows);
    m.colFolds = ceilDiv(m.Sc, cols);
    m.folds = m.rowFolds * m.colFolds;
    // Per fold: OS fills operands along both edges (rows+cols-2 skew) then streams T; WS/IS
    // first preload the stationary operand (rows more cycles). The final fold's drain overlaps
    // one cycle, hence the -1 (matches SCALE-Sim v2's reported totals).
    const int64_t perFold = dataflow == Dataflow::OutputStationary ? rows + cols + m.T - 2
                                                                   : 2 * rows + cols + m.T - 2;
    m.cyclesPerGroup = m.folds * perFold - 1;
    m.groups = g.groups;
    m.cycles = m.groups * m.cyclesPerGroup;
    m.macs = m.groups * pixels * window * g.K;
    return m;
}

}  // namespace autosplit::sim
