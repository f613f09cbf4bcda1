// Layers and the sequential executor on the cpu backend: the Conv2DTranspose layer against a naive
// scatter-form transposed convolution, the adjoint identity <J v, w> = <v, J^T w> for every layer's
// backward, parameter bookkeeping, and the autoencoder's shapes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "runtime/models/autoencoder.h"
#include "runtime/train/trainer.h"
#include "runtime/nn/layers.h"
#include "runtime/nn/sequential.h"

using namespace zs;

namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// One layer planned on a cpu backend with random parameters.
struct LayerRig {
  std::unique_ptr<Backend> be = make_cpu_backend();
  ParamStore ps;
  std::unique_ptr<Layer> layer;
  Shape in, out;
  LayerRig(std::unique_ptr<Layer> l, Shape in_shape) : layer(std::move(l)), in(in_shape) {
    out = layer->plan(in, ps);
    ps.allocate(*be, 7);
    auto p = random_vec(size_t(ps.total()), 3);
    be->to_device(ps.params(), p.data(), p.size());
  }
};

}  // namespace

TEST_CASE("Conv2DTranspose forward equals a naive scatter transposed convolution", "[nn]") {
  const int n = 2, cin = 3, h = 4, w = 5, cout = 2, k = 3, s = 2;
  LayerRig rig(std::make_unique<Conv2DTranspose>("t", cout, k, s, Act::None), Shape{cin, h, w});
  REQUIRE(rig.out == Shape{cout, h * s, w * s});
  auto x = random_vec(size_t(n) * rig.in.size(), 11);
  std::vector<float> y(size_t(n) * rig.out.size());
  rig.layer->forward(*rig.be, y.data(), x.data(), n);

  // Scatter form: every input pixel spreads w * x over the output, with the TF 'same' offset of the
  // forward conv it is the adjoint of (pad_top = total / 2 of the conv from out to in).
  const auto& slots = rig.ps.slots();
  const float* wt = rig.ps.param(0);  // [cin][cout][k][k]
  const float* bias = rig.ps.param(1);
  REQUIRE(slots[0].shape == std::vector<int64_t>{cin, cout, k, k});
  ConvGeom g = ConvGeom::same(n, cout, h * s, w * s, cin, k, s);
  std::vector<double> ref(y.size(), 0.0);
  for (int b = 0; b < n; ++b)
    for (int co = 0; co < cout; ++co)
      for (int i = 0; i < h * s * w * s; ++i) ref[size_t((b * cout + co) * h * s * w * s + i)] = bias[co];
  for (int b = 0; b < n; ++b)
    for (int ci = 0; ci < cin; ++ci)
      for (int p = 0; p < h; ++p)
        for (int q = 0; q < w; ++q)
          for (int co = 0; co < cout; ++co)
            for (int r = 0; r < k; ++r)
              for (int c = 0; c < k; ++c) {
                int oy = p * s - g.pad_top + r, ox = q * s - g.pad_left + c;
                if (oy < 0 || oy >= h * s || ox < 0 || ox >= w * s) continue;
                ref[size_t(((b * cout + co) * h * s + oy) * w * s + ox)] +=
                    double(wt[((ci * cout + co) * k + r) * k + c]) * x[size_t(((b * cin + ci) * h + p) * w + q)];
              }
  for (size_t i = 0; i < y.size(); ++i) {
    INFO("index " << i);
    REQUIRE(std::abs(y[i] - ref[i]) <= 1e-5 + 1e-5 * std::abs(ref[i]));
  }
}

TEST_CASE("each layer's backward is the adjoint of its linearization", "[nn]") {
  struct Case {
    const char* name;
    std::function<std::unique_ptr<Layer>()> make;
    Shape in;
  };
  std::vector<Case> cases = {
      {"conv s1", [] { return std::make_unique<Conv2D>("c", 5, 3, 1, Act::None); }, {3, 6, 5}},
      {"conv s2", [] { return std::make_unique<Conv2D>("c", 4, 3, 2, Act::None); }, {3, 7, 6}},
      {"deconv s2", [] { return std::make_unique<Conv2DTranspose>("d", 3, 3, 2, Act::None); }, {5, 3, 4}},
      {"deconv s1", [] { return std::make_unique<Conv2DTranspose>("d", 2, 3, 1, Act::None); }, {3, 5, 4}},
      {"dense", [] { return std::make_unique<Dense>("f", 7, Act::None); }, {3, 2, 2}},
  };
  for (auto& tc : cases) {
    SECTION(tc.name) {
      const int n = 3;
      LayerRig rig(tc.make(), tc.in);
      // With zero bias and no activation the layer is linear in x: check <J v, w> = <v, J^T w>.
      rig.be->fill(rig.ps.param(1), 0.0f, size_t(rig.ps.slots()[1].count));
      auto v = random_vec(size_t(n) * rig.in.size(), 21);
      auto wv = random_vec(size_t(n) * rig.out.size(), 22);
      std::vector<float> jv(wv.size()), jtw(v.size()), dy = wv;
      rig.layer->forward(*rig.be, jv.data(), v.data(), n);
      rig.layer->backward(*rig.be, jtw.data(), dy.data(), v.data(), jv.data(), n, {});
      double lhs = dot(jv, wv), rhs = dot(v, jtw);
      INFO(tc.name << ": <Jv,w> = " << lhs << ", <v,J^T w> = " << rhs);
      REQUIRE(std::abs(lhs - rhs) <= 1e-4 * (1 + std::abs(lhs)));
      // The weight gradient is linear in the weights' role: <dW, W> = <J v, w> (bias zero).
      auto wgrad = std::vector<float>(size_t(rig.ps.slots()[0].count));
      auto wval = wgrad;
      rig.be->to_host(wgrad.data(), rig.ps.grad(0), wgrad.size());
      rig.be->to_host(wval.data(), rig.ps.param(0), wval.size());
      double wl = dot(wgrad, wval);
      INFO("<dW, W> = " << wl);
      REQUIRE(std::abs(wl - lhs) <= 1e-4 * (1 + std::abs(lhs)));
    }
  }
}

TEST_CASE("activation fused into a layer back-propagates through its output", "[nn]") {
  const int n = 2;
  LayerRig rig(std::make_unique<Dense>("f", 4, Act::LeakyRelu), Shape{6, 1, 1});
  auto x = random_vec(size_t(n) * 6, 5);
  std::vector<float> y(size_t(n) * 4), dx(x.size());
  rig.layer->forward(*rig.be, y.data(), x.data(), n);
  std::vector<float> dy(y.size(), 1.0f);
  rig.layer->backward(*rig.be, dx.data(), dy.data(), x.data(), y.data(), n, {});
  // The bias gradient is the column sum of dy * act'(pre), act' = 1 or 0.3.
  std::vector<float> db(4);
  rig.be->to_host(db.data(), rig.ps.grad(1), 4);
  for (int j = 0; j < 4; ++j) {
    double want = 0;
    for (int i = 0; i < n; ++i) want += y[size_t(i * 4 + j)] > 0 ? 1.0 : kLeakyAlpha;
    REQUIRE(db[size_t(j)] == Approx(want).epsilon(1e-6));
  }
}

TEST_CASE("a chain's backward moves each activation derivative into the next layer's dx, same bits", "[nn]") {
  // Every layer kind and view, LeakyReLU and sigmoid: Sequential hands each layer the activation of
  // the layer before it (ActGrads), so the cpu backend applies it while writing dx. The gradients
  // must equal those of the plain layer-by-layer backward, where each layer applies its own.
  auto be = make_cpu_backend();
  Sequential chain;
  chain.add(std::make_unique<Conv2D>("c1", 4, 3, 1, Act::LeakyRelu))
      .add(std::make_unique<Conv2D>("c2", 6, 3, 2, Act::LeakyRelu))
      .add(Reshape::flatten("flat"))
      .add(std::make_unique<Dense>("d1", 10, Act::LeakyRelu))
      .add(std::make_unique<Dense>("d2", 96, Act::None))
      .add(std::make_unique<Reshape>("shape", Shape{6, 4, 4}))
      .add(std::make_unique<Conv2DTranspose>("t1", 4, 3, 2, Act::LeakyRelu))
      .add(std::make_unique<Conv2DTranspose>("t2", 1, 3, 1, Act::Sigmoid));
  ParamStore ps;
  const int n = 3;
  const Shape in{1, 8, 8};
  REQUIRE(chain.plan(in, n, ps) == in);
  ps.allocate(*be, 5);
  chain.allocate(*be);
  const auto x = random_vec(size_t(n) * in.size(), 31);
  const auto dout = random_vec(size_t(n) * in.size(), 32);

  chain.forward(*be, x.data(), n);
  std::copy(dout.begin(), dout.end(), chain.output_grad());
  std::vector<float> dx_fused(x.size(), std::nanf(""));
  chain.backward(*be, x.data(), dx_fused.data(), n);
  const std::vector<float> grads_fused(ps.grads(), ps.grads() + ps.total());

  // The plain backward, layer by layer, over activations recomputed in buffers of our own.
  constexpr size_t kMaxSample = 256;  // the largest activation of the chain (4 x 8 x 8)
  const auto& layers = chain.layers();
  std::vector<std::vector<float>> acts = {x};
  for (const auto& layer : layers) {
    if (layer->is_view()) {
      acts.push_back(acts.back());
      continue;
    }
    std::vector<float> y(size_t(n) * kMaxSample);
    layer->forward(*be, y.data(), acts.back().data(), n);
    acts.push_back(std::move(y));
  }
  std::vector<float> dy = dout;
  dy.resize(size_t(n) * kMaxSample);
  for (size_t i = layers.size(); i-- > 0;) {
    if (layers[i]->is_view()) continue;
    std::vector<float> dx(size_t(n) * kMaxSample);
    layers[i]->backward(*be, dx.data(), dy.data(), acts[i].data(), acts[i + 1].data(), n, {});
    dy = std::move(dx);
  }
  const std::vector<float> grads_plain(ps.grads(), ps.grads() + ps.total());
  REQUIRE(std::memcmp(grads_fused.data(), grads_plain.data(), grads_plain.size() * sizeof(float)) == 0);
  REQUIRE(std::memcmp(dx_fused.data(), dy.data(), dx_fused.size() * sizeof(float)) == 0);
  // And the derivatives did change something: LeakyReLU's 0.3 slope is in play.
  size_t negative = 0;
  for (size_t i = 1; i < acts.size() - 1; ++i)
    for (float v : acts[i]) negative += v < 0;
  CHECK(negative > 0);
}

TEST_CASE("the autoencoder has the blog's shapes and parameter names", "[nn]") {
  auto be = make_cpu_backend();
  Autoencoder ae(*be, 16, LossKind::Bce, 4, 1);
  std::vector<std::pair<std::string, std::vector<int64_t>>> want = {
      {"encoder.conv1.weight", {32, 1, 3, 3}},   {"encoder.conv1.bias", {32}},
      {"encoder.conv2.weight", {64, 32, 3, 3}},  {"encoder.conv2.bias", {64}},
      {"encoder.conv3.weight", {128, 64, 3, 3}}, {"encoder.conv3.bias", {128}},
      {"encoder.dense.weight", {6272, 16}},      {"encoder.dense.bias", {16}},
      {"decoder.dense.weight", {16, 6272}},      {"decoder.dense.bias", {6272}},
      {"decoder.deconv1.weight", {128, 64, 3, 3}}, {"decoder.deconv1.bias", {64}},
      {"decoder.deconv2.weight", {64, 32, 3, 3}},  {"decoder.deconv2.bias", {32}},
      {"decoder.deconv3.weight", {32, 1, 3, 3}},   {"decoder.deconv3.bias", {1}},
  };
  REQUIRE(ae.params().slots().size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(ae.params().slots()[i].name == want[i].first);
    CHECK(ae.params().slots()[i].shape == want[i].second);
  }
  // Glorot-uniform bounds and zero biases.
  auto host = ae.params().to_host(false);
  const auto& w = host.at("encoder.conv2.weight").data;
  float limit = std::sqrt(6.0f / (9 * 32 + 9 * 64));
  float mx = 0;
  for (float v : w) mx = std::max(mx, std::abs(v));
  CHECK(mx <= limit);
  CHECK(mx > 0.9f * limit);
  for (float v : host.at("decoder.deconv2.bias").data) CHECK(v == 0.0f);
}

TEST_CASE("a few Adam steps on a fixed batch lower the autoencoder loss", "[nn][training]") {
  auto be = make_cpu_backend();
  const int n = 8;
  Autoencoder ae(*be, 8, LossKind::Bce, n, 3);
  // Simple strokes: a bright bar at a different row per image.
  std::vector<float> x(size_t(n) * kImageSize, 0.0f);
  for (int i = 0; i < n; ++i)
    for (int c = 4; c < 24; ++c) x[size_t(i * kImageSize + (3 + 3 * i) * kImageSide + c)] = 1.0f;
  auto mean_loss = [&] {
    std::vector<float> l(n);
    be->to_host(l.data(), ae.evaluate(x.data(), n, 0, 0), n);
    double s = 0;
    for (float v : l) s += v;
    return s / n;
  };
  double before = mean_loss();
  Trainer trainer(*be, ae, kImageSize);
  for (int i = 0; i < 30; ++i) trainer.step(x.data(), n, AdamHyper{2e-3f});
  double after = mean_loss();
  INFO("loss before " << before << ", after " << after);
  REQUIRE(after < 0.5 * before);
}

TEST_CASE("the decoder head is the blog's LeakyReLU then sigmoid by default, a plain sigmoid on request", "[nn]") {
  // The same seed gives both heads the same weights, so the plain head's output y gives the last
  // layer's pre-activation v = logit(y), and the blog head must output sigmoid(leaky_relu(v)).
  auto be = make_cpu_backend();
  const int n = 3;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(size_t(n) * kImageSize);
  for (float& v : x) v = u(rng);
  Autoencoder blog(*be, 4, LossKind::Bce, n, 7), plain(*be, 4, LossKind::Bce, n, 7, DecoderHead::Sigmoid);
  CHECK(blog.checkpoint_metadata().at("decoder_head") == "blog");
  CHECK(plain.checkpoint_metadata().at("decoder_head") == "sigmoid");
  blog.forward_loss(x.data(), n, 0);
  plain.forward_loss(x.data(), n, 0);
  const float* yb = blog.reconstruction();
  const float* yp = plain.reconstruction();
  size_t negative = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = std::log(double(yp[i]) / (1.0 - double(yp[i])));
    const double want = 1.0 / (1.0 + std::exp(-(v > 0 ? v : 0.3 * v)));
    negative += v < 0;
    INFO("pixel " << i << ": pre-activation " << v);
    // logit amplifies y's rounding by 1 / (y (1 - y)); near 1/2 that is 4x, so a few float ulps.
    REQUIRE(std::fabs(yb[i] - want) <= 1e-6);
  }
  CHECK(negative > 0);  // the LeakyReLU's slope was in play
  CHECK(parse_decoder_head("blog") == DecoderHead::Blog);
  CHECK(parse_decoder_head("sigmoid") == DecoderHead::Sigmoid);
  CHECK(!parse_decoder_head("relu").has_value());
}
