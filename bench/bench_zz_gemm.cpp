#include "../core/src/exec/sgemm_kernels.h"
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>
using namespace autosplit::exec;
int main() {
  struct S { int M, N, K; };
  for (S s : {S{96,12544,16}, S{144,3136,24}, S{24,3136,144}, S{16,12544,32}, S{1280,49,320}, S{192,784,32}}) {
    const int lda = s.K;
    std::vector<float> A((size_t)s.M*lda), B((size_t)s.K*s.N), C((size_t)s.M*s.N);
    std::vector<std::vector<float>> Cs(8, std::vector<float>((size_t)s.M*s.N));
    std::mt19937 r(1); std::uniform_real_distribution<float> u(-1,1);
    for (auto& x: A) x=u(r); for (auto& x: B) x=u(r);
    MatrixBSource b(B.data(), s.N, false);
    double best=1e9, bestCold=1e9;
    for (int rep=0; rep<20; ++rep){ auto t0=std::chrono::steady_clock::now();
      packedGemm(gemmIsa(), nullptr, s.M, s.N, s.K, A.data(), lda, false, b, C.data(), s.N, false);
      best=std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now()-t0).count()); }
    for (int rep=0; rep<16; ++rep){ auto t0=std::chrono::steady_clock::now();
      packedGemm(gemmIsa(), nullptr, s.M, s.N, s.K, A.data(), lda, false, b, Cs[rep%8].data(), s.N, false);
      bestCold=std::min(bestCold, std::chrono::duration<double>(std::chrono::steady_clock::now()-t0).count()); }
    std::printf("M=%5d N=%5d K=%5d  %.3f ms  %.0f GF/s  rotating C %.3f ms  out %.1f MB\n", s.M,s.N,s.K,best*1e3, 2.0*s.M*s.N*s.K/best/1e9, bestCold*1e3, s.M*s.N*4/1e6);
  }
}
