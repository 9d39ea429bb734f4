// Writes the bundled example model: a small image classifier shaped like the paper's edge
// models (MobileNet-style inverted residuals with skip connections, an inception-style pair of
// branches, a dense context stage, BatchNorm, ReLU6 and a decomposed HardSwish), 1x3x96x96
// input, 10 classes, seeded weights. Generated at build time so the repository carries no binary model.
//   make_example OUT.onnx
#include "autosplit/onnx/model_builder.h"
#include "autosplit/util/errors.h"

#include <cmath>
#include <cstdio>
#include <string>

using autosplit::Attr;
using autosplit::ModelBuilder;
using autosplit::randomValues;

namespace {

class Net {
public:
    explicit Net(ModelBuilder& b) : b_(b) {}

    // Conv (+BN) with He-like scaled weights; returns the output tensor name.
    std::string conv(const std::string& in, int cin, int cout, int k, int stride, int group, bool bn,
                     const std::string& name) {
        const int per = cin / group * k * k;
        std::vector<float> w = randomValues(size_t(cout) * per, seed_++);
        const float scale = 1.7f / std::sqrt(float(per));
        for (auto& v : w) v *= scale;
        b_.initializer(name + ".weight", {cout, cin / group, k, k}, w);
        std::vector<std::string> ins{in, name + ".weight"};
        if (!bn) {
            b_.initializer(name + ".bias", {cout}, randomValues(size_t(cout), seed_++));
            ins.push_back(name + ".bias");
        }
        const int pad = k / 2;
        b_.node("Conv", ins, {name}, {Attr::list("kernel_shape", {k, k}), Attr::list("strides", {stride, stride}),
                                     Attr::list("pads", {pad, pad, pad, pad}), Attr::integer("group", group)},
                name);
        if (!bn) return name;
        std::vector<float> gamma = randomValues(size_t(cout), seed_++), beta = randomValues(size_t(cout), seed_++),
                           mean = randomValues(size_t(cout), seed_++), var = randomValues(size_t(cout), seed_++);
        for (int c = 0; c < cout; ++c) {
            gamma[c] = 1.f + 0.4f * gamma[c];
            beta[c] *= 0.2f;
            mean[c] *= 0.1f;
            var[c] = 1.f + 0.5f * var[c];
        }
        const std::string bn_ = name + ".bn";
        b_.initializer(bn_ + ".gamma", {cout}, gamma).initializer(bn_ + ".beta", {cout}, beta);
        b_.initializer(bn_ + ".mean", {cout}, mean).initializer(bn_ + ".var", {cout}, var);
        b_.node("BatchNormalization", {name, bn_ + ".gamma", bn_ + ".beta", bn_ + ".mean", bn_ + ".var"}, {bn_}, {}, bn_);
        return bn_;
    }

    std::string relu6(const std::string& in) {
        const std::string out = in + ".relu6";
        b_.node("Clip", {in, "zero", "six"}, {out}, {}, out);
        return out;
    }

    // x * relu6(x + 3) / 6 as separate nodes, the way Paddle exports HardSwish.
    std::string hardSwish(const std::string& in) {
        b_.node("Add", {in, "three"}, {in + ".hs_add"}, {}, in + ".hs_add");
        b_.node("Clip", {in + ".hs_add", "zero", "six"}, {in + ".hs_clip"}, {}, in + ".hs_clip");
        b_.node("Mul", {in, in + ".hs_clip"}, {in + ".hs_mul"}, {}, in + ".hs_mul");
        b_.node("Div", {in + ".hs_mul", "six"}, {in + ".hswish"}, {}, in + ".hswish");
        return in + ".hswish";
    }

    // MobileNetV2 inverted residual: 1x1 expand, 3x3 depthwise, 1x1 project (+ skip).
    std::string invertedResidual(const std::string& in, int cin, int cout, int stride, int expand,
                                 const std::string& name) {
        const int mid = cin * expand;
        std::string x = relu6(conv(in, cin, mid, 1, 1, 1, true, name + ".expand"));
        x = relu6(conv(x, mid, mid, 3, stride, mid, true, name + ".dw"));
        x = conv(x, mid, cout, 1, 1, 1, true, name + ".project");
        if (stride == 1 && cin == cout) {
            b_.node("Add", {x, in}, {name + ".add"}, {}, name + ".add");
            return name + ".add";
        }
        return x;
    }

private:
    ModelBuilder& b_;
    uint32_t seed_ = 2021;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_example OUT.onnx\n");
        return 2;
    }
    ModelBuilder b(13);
    b.graphName("autosplit-example-mobilenet");
    b.input("image", {1, 3, 96, 96});
    b.initializer("zero", {}, {0.f}).initializer("three", {}, {3.f}).initializer("six", {}, {6.f});
    Net net(b);
    std::string x = net.relu6(net.conv("image", 3, 16, 3, 2, 1, true, "stem"));     // 48x48
    x = net.invertedResidual(x, 16, 16, 1, 1, "block1");
    x = net.invertedResidual(x, 16, 24, 2, 4, "block2");                            // 24x24
    x = net.invertedResidual(x, 24, 24, 1, 4, "block3");
    x = net.invertedResidual(x, 24, 32, 2, 4, "block4");                            // 12x12
    x = net.invertedResidual(x, 32, 32, 1, 4, "block5");
    // Inception-style pair: a 1x1 path and a 3x3 path, concatenated.
    const std::string left = net.hardSwish(net.conv(x, 32, 32, 1, 1, 1, true, "mix.left"));
    const std::string right = net.hardSwish(net.conv(x, 32, 32, 3, 1, 1, true, "mix.right"));
    b.node("Concat", {left, right}, {"mix"}, {Attr::integer("axis", 1)}, "mix");
    // A compute-heavy context stage (dense 3x3 convs): on a slow edge accelerator it is cheaper
    // to send the 12x12 features than to run it, on a fast uplink cheaper still to send the
    // image, so the plan changes kind as the uplink slider moves.
    x = net.relu6(net.conv("mix", 64, 320, 3, 1, 1, true, "context1"));
    x = net.relu6(net.conv(x, 320, 320, 3, 1, 1, true, "context2"));
    x = net.relu6(net.conv(x, 320, 64, 3, 1, 1, true, "context3"));
    x = net.invertedResidual(x, 64, 64, 2, 2, "block6");                             // 6x6
    x = net.relu6(net.conv(x, 64, 128, 1, 1, 1, true, "head"));
    b.node("GlobalAveragePool", {x}, {"pool"}, {}, "pool");
    b.node("Flatten", {"pool"}, {"flat"}, {Attr::integer("axis", 1)}, "flatten");
    std::vector<float> fc = randomValues(10 * 128, 77);
    for (auto& v : fc) v *= 0.15f;
    b.initializer("fc.weight", {10, 128}, fc).initializer("fc.bias", {10}, randomValues(10, 78));
    b.node("Gemm", {"flat", "fc.weight", "fc.bias"}, {"logits"}, {Attr::integer("transB", 1)}, "fc");
    b.output("logits");
    try {
        b.save(argv[1]);
    } catch (const autosplit::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
