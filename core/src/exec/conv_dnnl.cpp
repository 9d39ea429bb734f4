#include "conv_dnnl.h"

#include <cstdlib>
#include <cstring>

#ifdef AUTOSPLIT_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#endif

namespace autosplit::exec {

#ifndef AUTOSPLIT_HAVE_DNNL

bool dnnlConvEnabled() { return false; }
bool dnnlConv(const DnnlConvArgs&) { return false; }

#else

namespace {

enum class Mode { Off, Blocked, Plain };

Mode mode() {
    static const Mode m = [] {
        const char* e = std::getenv("AUTOSPLIT_CONV");
        if (!e) return Mode::Off;
        if (std::strcmp(e, "dnnl") == 0) return Mode::Blocked;
        if (std::strcmp(e, "dnnl-plain") == 0) return Mode::Plain;
        return Mode::Off;
    }();
    return m;
}

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

struct Engine {
    engine eng{engine::kind::cpu, 0};
    stream strm{eng};
};

Engine& eng() {
    static Engine e;
    return e;
}

// One primitive per (weights, geometry): the weights reordered into its layout once.
struct Entry {
    convolution_forward conv;
    convolution_forward::primitive_desc pd;
    memory weights;  // in pd.weights_desc()
    memory bias;
    bool srcReorder = false, dstReorder = false;
    memory::desc userSrc, userDst;
};

using Key = std::tuple<const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, bool, float, float>;

std::mutex cacheMutex;
std::map<Key, std::shared_ptr<Entry>> cache;

std::shared_ptr<Entry> build(const DnnlConvArgs& a, Mode m) {
    Engine& e = eng();
    auto ent = std::make_shared<Entry>();
    const memory::dims src{a.n, a.c, a.h, a.w}, dst{a.n, a.k, a.oh, a.ow};
    const memory::dims wdims = a.group == 1 ? memory::dims{a.k, a.c, a.kh, a.kw}
                                            : memory::dims{a.group, a.k / a.group, a.c / a.group, a.kh, a.kw};
    const tag wUser = a.group == 1 ? tag::oihw : tag::goihw;
    ent->userSrc = memory::desc(src, dt::f32, tag::nchw);
    ent->userDst = memory::desc(dst, dt::f32, tag::nchw);
    const tag act = m == Mode::Plain ? tag::nchw : tag::any;
    const memory::desc srcMd(src, dt::f32, act), dstMd(dst, dt::f32, act), wMd(wdims, dt::f32, tag::any),
        bMd({a.k}, dt::f32, tag::x);
    const convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct, srcMd, wMd, bMd,
                                      dstMd, {a.sy, a.sx}, {a.dy - 1, a.dx - 1}, {a.pt, a.pl}, {a.pb, a.pr});
    primitive_attr attr;
    if (a.clamp) {
        post_ops po;
        po.append_eltwise(1.f, algorithm::eltwise_clip, a.lo, a.hi);
        attr.set_post_ops(po);
    }
    ent->pd = convolution_forward::primitive_desc(d, attr, e.eng);
    ent->conv = convolution_forward(ent->pd);
    memory userW({wdims, dt::f32, wUser}, e.eng, const_cast<float*>(a.wgt));
    ent->weights = memory(ent->pd.weights_desc(), e.eng);
    reorder(userW, ent->weights).execute(e.strm, userW, ent->weights);
    ent->bias = memory(bMd, e.eng);
    if (a.bias) std::memcpy(ent->bias.get_data_handle(), a.bias, sizeof(float) * a.k);
    else std::memset(ent->bias.get_data_handle(), 0, sizeof(float) * a.k);
    ent->srcReorder = ent->pd.src_desc() != ent->userSrc;
    ent->dstReorder = ent->pd.dst_desc() != ent->userDst;
    e.strm.wait();
    return ent;
}

}  // namespace

bool dnnlConvEnabled() { return mode() != Mode::Off; }

bool dnnlConv(const DnnlConvArgs& a) {
    const Mode m = mode();
    if (m == Mode::Off) return false;
    const Key key{a.wgt, a.n, a.c, a.h, a.w, a.k, a.kh, a.kw, a.group, a.sy, a.sx, a.pt, a.pl, a.clamp, a.lo, a.hi};
    std::shared_ptr<Entry> ent;
    {
        std::lock_guard<std::mutex> lock(cacheMutex);
        auto it = cache.find(key);
        if (it == cache.end()) it = cache.emplace(key, build(a, m)).first;
        ent = it->second;
    }
    Engine& e = eng();
    memory userSrc(ent->userSrc, e.eng, const_cast<float*>(a.x)), userDst(ent->userDst, e.eng, a.y);
    memory src = userSrc, dst = userDst;
    if (ent->srcReorder) {
        src = memory(ent->pd.src_desc(), e.eng);
        reorder(userSrc, src).execute(e.strm, userSrc, src);
    }
    if (ent->dstReorder) dst = memory(ent->pd.dst_desc(), e.eng);
    ent->conv.execute(e.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, ent->weights}, {DNNL_ARG_BIAS, ent->bias},
                               {DNNL_ARG_DST, dst}});
    if (ent->dstReorder) reorder(dst, userDst).execute(e.strm, dst, userDst);
    e.strm.wait();
    return true;
}

#endif

}  // namespace autosplit::exec
