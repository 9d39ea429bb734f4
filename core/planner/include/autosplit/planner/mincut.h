// Edge/cloud partition of a DAG by minimum s-t cut (the DADS / QDMP baselines).
//
// Source = edge, sink = cloud. Node v: s->v with its cloud time (cut when v runs in the cloud),
// v->t with its edge time (cut when v runs on the edge). Every tensor gets one auxiliary vertex
// a: producer->a carries its transfer time, a->consumer is infinite, so a tensor read by several
// cloud consumers is paid once. Infinite consumer->producer edges forbid data flowing from the
// cloud back to the edge. Graph inputs are produced by the source (the edge holds the input).
#pragma once

#include <vector>

namespace autosplit::planner {

struct CutProblem {
    std::vector<double> edgeCost;   // per node
    std::vector<double> cloudCost;  // per node
    struct Data {
        int producer = -1;            // node, or -1 for a graph input (always on the edge)
        std::vector<int> consumers;   // nodes
        double transferCost = 0;      // paid when the producer is on the edge and a consumer is not
    };
    std::vector<Data> data;
};

struct CutResult {
    std::vector<bool> onEdge;  // per node
    double cost = 0;
};

// Cost of a partition; +infinity when a consumer on the edge reads a tensor made in the cloud.
double cutCost(const CutProblem& p, const std::vector<bool>& onEdge);

// Minimum cut by Dinic's max-flow; onEdge = the source side of the residual graph.
CutResult minimumCut(const CutProblem& p);

}  // namespace autosplit::planner
