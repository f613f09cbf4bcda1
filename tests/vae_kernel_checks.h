// Checks of the VAE kernels (kernels/vae.cu) against the CPU twin (kernels/cpu/vae.h), shared by
// tests/test_emu_vae.cpp (the emulator, zs::emu) and tests/test_cuda_vae.cpp (a GPU, zs::cuda).
// The includer picks the build as for dense_kernel_checks.h (whose device memory, runs, oracles
// and comparisons these reuse): it defines ZS_KNS (cuda) before including this, or leaves it to
// kernels/common.cuh (emu).
//
// Two kinds of build:
//   TwinBits::Yes  the emulator: kernels call glibc like the twin and write every multiply-add
//                  the formulas name as an explicit fma, so eps, z, dpred and every gradient must
//                  be the twin's EXACT bits; the losses differ only by the order of the double
//                  sums and the twin's own log (tolerance below).
//   TwinBits::No   a GPU: device expf / expm1f / logf / cosf differ from glibc by a few ulp, so
//                  everything is compared within tolerance; the raw Philox words stay exact.
// Either way every run must give the first run's bits (deterministic kernels).
//
// Tolerances, in u = 2^-24, from the error bounds of the functions involved (CUDA programming
// guide, appendix "Mathematical functions": expf 2 ulp, logf 1 ulp, cospif 1 ulp, expm1f 1 ulp;
// glibc's are within 1 ulp; 1 ulp <= 2u relative):
//   eps    device: logf 2u (halved by the sqrt) + sqrtf 1u + cospif 2u + product 1u = 5u;
//          host: 1u + 1u + cos rounded to float 1u + 1u = 4u; total 9u of |eps| (relative
//          everywhere: the angle never hits a zero of the cosine, kernels/philox.h).
//   z      fma(exp(0.5 lv), eps, mu): exp 4u + 2u, eps 9u, the fma 1u each side: 17u of
//          max(|z|, |mu| + |exp(0.5 lv) eps|).
//   dlv (reparam backward) fma(dz eps, 0.5 exp(0.5 lv), d0): exp 6u, fma 1u each: 8u of
//          |d0| + |the added term|; dmu += dz is one IEEE add: 2u of |d0| + |dz|.
//   recon  the twin's few-ulp log (budget 4 ulp: 8u, as dense_kernel_checks.h) + device logf 2u,
//          products exact in double, one float rounding each side: 12u of |recon| (terms >= 0).
//   kl     expm1f 2u each side, one float rounding each: 6u of the terms' magnitude
//          0.5 sum(|expm1(lv)| + |lv| + mu^2) (they cancel for lv near 0).
//   total  recon's and beta kl's errors plus one rounding each side: 14u of recon + beta M_kl.
//   dpred  the same five IEEE float operations on both sides: 10u (in fact exact).
//   d_mu_logvar  mu (beta / n): 2 roundings each side, 4u; 0.5 expm1(lv) (beta / n): 8u.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dense_kernel_checks.h"
#include "kernels/adam.cuh"
#include "kernels/cpu/vae.h"
#include "kernels/philox.h"
#include "kernels/vae.cuh"

namespace zs::vae_checks {

using namespace ::zs::dense_checks;
namespace kns = ::zs::ZS_KNS;

enum class TwinBits { No, Yes };

inline constexpr double kEpsRtol = 9 * kUnitRoundoff;
inline constexpr double kZRtol = 17 * kUnitRoundoff;
inline constexpr double kReparamGradRtol = 8 * kUnitRoundoff;
inline constexpr double kReconRtol = 12 * kUnitRoundoff;
inline constexpr double kKlRtol = 6 * kUnitRoundoff;
inline constexpr double kTotalRtol = 14 * kUnitRoundoff;
inline constexpr double kDpredRtol = 10 * kUnitRoundoff;
inline constexpr double kLatentGradRtol = 8 * kUnitRoundoff;

// An output and whether this build must reproduce the twin's bits for it.
struct Checked {
  Expected expected;
  bool twin_bits = false;
};

// Every run within tolerance, the exact ones bit for bit, and all runs bit-identical.
inline void check_vae_runs(const Repeater& repeat, const Producer& produce, const std::vector<Checked>& outputs,
                           const std::string& context) {
  const std::vector<Run> runs = repeat(produce);
  REQUIRE(!runs.empty());
  for (const Run& run : runs) {
    REQUIRE(run.outputs.size() == outputs.size());
    for (std::size_t o = 0; o < outputs.size(); ++o) {
      const Expected& e = outputs[o].expected;
      require_close(run.outputs[o], e, context + ", " + run.label);
      if (outputs[o].twin_bits) {
        INFO(context << ", output " << e.name << ": " << run.label << " is not the CPU twin's exact bits");
        CHECK(same_bits(run.outputs[o], e.ref));
      }
      INFO(context << ", output " << e.name << ": " << run.label << " differs in its bits from " << runs.front().label);
      CHECK(same_bits(run.outputs[o], runs.front().outputs[o]));
    }
  }
}

inline std::vector<float> make_mu_logvar(int n, int zdim, uint32_t seed) {
  const std::vector<float> mu = random_floats(std::size_t(n) * zdim, seed, -3.f, 3.f);
  const std::vector<float> lv = random_floats(std::size_t(n) * zdim, seed + 1, -6.f, 6.f);
  // log_var beyond and exactly at both clamp bounds, and 0 (where the KL terms cancel).
  const float specials[] = {-100.f, 100.f, kLogVarMin, kLogVarMax, -30.5f, 20.5f, 0.f};
  std::vector<float> out(std::size_t(n) * 2 * zdim);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < zdim; ++j) {
      const std::size_t e = std::size_t(i) * zdim + j;
      out[std::size_t(i) * 2 * zdim + j] = mu[e];
      out[std::size_t(i) * 2 * zdim + zdim + j] = e % 5 == 3 ? specials[(e / 5) % 7] : lv[e];
    }
  return out;
}

struct LatentShape {
  int n, zdim;
};
// One element, odd sizes, more elements than one block of 256, zdim above a loss block.
inline const std::vector<LatentShape>& latent_shapes() {
  static const std::vector<LatentShape> shapes = {{1, 1}, {3, 2}, {3, 16}, {5, 7}, {2, 300}};
  return shapes;
}
inline const std::vector<LatentShape>& vae_latent_shapes() {   // batch 128, z_dim 2 and 16
  static const std::vector<LatentShape> shapes = {{128, 2}, {128, 16}};
  return shapes;
}

struct Key {
  uint64_t seed;
  int64_t step;
};
// High 32-bit halves set in seed and step; a negative step (its two's-complement bits).
inline const std::vector<Key>& keys() {
  static const std::vector<Key> k = {{0, 0}, {42, 7}, {(uint64_t(1) << 40) + 7, (int64_t(1) << 33) + 5}, {3, -1}};
  return k;
}

// ---- the raw generator: exact on every build ----

inline void check_philox_words(const Repeater& repeat) {
  const int64_t count = 1000;
  for (const Key& k : keys()) {
    std::vector<uint32_t> ref(std::size_t(4 * count));
    for (int64_t e = 0; e < count; ++e) {
      const PhiloxWords r = philox_vae_words(k.seed, k.step, uint64_t(e));
      for (int w = 0; w < 4; ++w) ref[std::size_t(4 * e + w)] = r.w[w];
    }
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<uint32_t> words(kernel_memory(), std::size_t(4 * count));
      kns::vae_philox_words(words.data(), count, k.seed, k.step, nullptr);
      const std::vector<uint32_t> got = words.download();
      std::vector<float> as_floats(got.size());   // bits carried unchanged
      std::memcpy(as_floats.data(), got.data(), got.size() * sizeof(uint32_t));
      return {as_floats};
    };
    for (const Run& run : repeat(produce)) {
      REQUIRE(run.outputs.size() == 1);
      REQUIRE(run.outputs[0].size() == ref.size());
      std::size_t bad = 0, first_bad = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) {
        uint32_t got;
        std::memcpy(&got, &run.outputs[0][i], sizeof got);
        if (got != ref[i] && bad++ == 0) first_bad = i;
      }
      INFO("philox words, seed " << k.seed << " step " << k.step << ", " << run.label << ": " << bad << " of "
                                 << ref.size() << " words differ from the host's; first at " << first_bad
                                 << " (element " << first_bad / 4 << ", word " << first_bad % 4 << ")");
      CHECK(bad == 0);
    }
  }
}

// ---- reparameterization forward ----

// z and eps of the twin, with z's magnitudes.
inline void reparam_oracle(const std::vector<float>& ml, int n, int zdim, const Key& k, bool sample,
                           TwinBits twin_bits, std::vector<Checked>& out, int64_t first_row = 0) {
  Expected e_z{"z", std::vector<float>(std::size_t(n) * zdim), std::vector<double>(std::size_t(n) * zdim), kZRtol};
  Expected e_eps{"eps", std::vector<float>(std::size_t(n) * zdim), {}, kEpsRtol};
  cpu::vae_reparam_forward(e_z.ref.data(), e_eps.ref.data(), ml.data(), n, zdim, k.seed, k.step, sample, first_row);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < zdim; ++j) {
      const std::size_t e = std::size_t(i) * zdim + j;
      const double mu = ml[std::size_t(i) * 2 * zdim + j];
      const double lv = std::fmin(std::fmax(double(ml[std::size_t(i) * 2 * zdim + zdim + j]), kLogVarMin), kLogVarMax);
      e_z.magnitude[e] = std::fabs(mu) + std::exp(0.5 * lv) * std::fabs(double(e_eps.ref[e]));
    }
  // Not sampling: z = mu and eps = 0 exactly, on every build.
  const bool exact = twin_bits == TwinBits::Yes || !sample;
  if (!sample) e_z.rtol = e_eps.rtol = 0;
  out = {{e_z, exact}, {e_eps, exact}};
}

inline void check_reparam_forward(const Repeater& repeat, TwinBits twin_bits,
                                  const std::vector<LatentShape>& shapes = latent_shapes()) {
  uint32_t seed = 500;
  for (const LatentShape& s : shapes) {
    const std::vector<float> ml = make_mu_logvar(s.n, s.zdim, seed += 2);
    for (const Key& k : keys()) {
      for (const bool sample : {true, false}) {
        std::vector<Checked> outputs;
        reparam_oracle(ml, s.n, s.zdim, k, sample, twin_bits, outputs);
        const Producer produce = [&]() -> Outputs {
          DeviceBuffer<float> d_ml(kernel_memory(), ml),
              z(kernel_memory(), std::vector<float>(std::size_t(s.n) * s.zdim, NAN)),
              eps(kernel_memory(), std::vector<float>(std::size_t(s.n) * s.zdim, NAN));
          kns::vae_reparam_forward(z.data(), eps.data(), d_ml.data(), s.n, s.zdim, k.seed, k.step, sample, 0, nullptr);
          return {z.download(), eps.download()};
        };
        check_vae_runs(repeat, produce, outputs,
                       "vae_reparam_forward n " + std::to_string(s.n) + " zdim " + std::to_string(s.zdim) + " seed " +
                           std::to_string(k.seed) + " step " + std::to_string(k.step) +
                           (sample ? "" : " (not sampling)"));
      }
    }
  }
}

// The step read from device memory gives the host step's bits; adam_advance_step moves it on.
inline void check_reparam_device_step(const Repeater& repeat, TwinBits twin_bits) {
  const int n = 3, zdim = 5;
  const std::vector<float> ml = make_mu_logvar(n, zdim, 600);
  for (const Key& k : keys()) {
    std::vector<Checked> at_step, at_next;
    reparam_oracle(ml, n, zdim, k, true, twin_bits, at_step);
    reparam_oracle(ml, n, zdim, Key{k.seed, k.step + 1}, true, twin_bits, at_next);
    std::vector<Checked> outputs = at_step;
    outputs.insert(outputs.end(), at_next.begin(), at_next.end());
    // The same launch with the host step, whose bits the device-step launches must equal.
    Outputs host_step;
    {
      DeviceBuffer<float> d_ml(kernel_memory(), ml), z(kernel_memory(), std::size_t(n) * zdim),
          eps(kernel_memory(), std::size_t(n) * zdim);
      kns::vae_reparam_forward(z.data(), eps.data(), d_ml.data(), n, zdim, k.seed, k.step, true, 0, nullptr);
      host_step = {z.download(), eps.download()};
    }
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> d_ml(kernel_memory(), ml), z(kernel_memory(), std::size_t(n) * zdim),
          eps(kernel_memory(), std::size_t(n) * zdim);
      DeviceBuffer<int64_t> step(kernel_memory(), std::vector<int64_t>{k.step});
      kns::vae_reparam_forward_device(z.data(), eps.data(), d_ml.data(), n, zdim, k.seed, step.data(), true, 0, nullptr);
      Outputs out{z.download(), eps.download()};
      kns::adam_advance_step(step.data(), nullptr);
      kns::vae_reparam_forward_device(z.data(), eps.data(), d_ml.data(), n, zdim, k.seed, step.data(), true, 0, nullptr);
      out.push_back(z.download());
      out.push_back(eps.download());
      return out;
    };
    const std::string context = "vae_reparam_forward_device seed " + std::to_string(k.seed) + " step " +
                                std::to_string(k.step) + " (then step + 1)";
    check_vae_runs(repeat, produce, outputs, context);
    const Outputs first = repeat(produce).front().outputs;
    INFO(context << ": the device step does not give the host step's bits");
    CHECK(same_bits(first[0], host_step[0]));
    CHECK(same_bits(first[1], host_step[1]));
  }
}

// A slice of a batch (first_row > 0: a data-parallel rank's rows): the host-step and the
// device-step launches on rows [first_row, first_row + n) of a batch of `rows` equal the twin's
// call with the same offset, and that call equals rows [first_row, first_row + n) of the twin's
// call on the whole batch (exact bits: same Philox elements, same formulas).
struct SliceShape {
  int rows, zdim, first_row, n;
};
inline const std::vector<SliceShape>& slice_shapes() {
  // The middle of an odd batch; the last row alone; rank 1 of 3 on a batch of 128 (rows 42..84,
  // more elements than a block of 256); a wide zdim, the slice starting past a block boundary.
  static const std::vector<SliceShape> shapes = {{7, 5, 3, 3}, {5, 7, 4, 1}, {128, 16, 42, 43}, {6, 300, 2, 3}};
  return shapes;
}

inline void check_reparam_slice(const Repeater& repeat, TwinBits twin_bits) {
  uint32_t seed = 700;
  for (const SliceShape& s : slice_shapes()) {
    const std::vector<float> whole_ml = make_mu_logvar(s.rows, s.zdim, seed += 2);
    const auto row_at = [&](int r) { return std::size_t(r) * std::size_t(s.zdim); };
    const std::vector<float> ml(whole_ml.begin() + std::ptrdiff_t(2 * row_at(s.first_row)),
                                whole_ml.begin() + std::ptrdiff_t(2 * row_at(s.first_row + s.n)));
    for (const Key& k : keys()) {
      const std::string context = "vae_reparam_forward rows [" + std::to_string(s.first_row) + ", " +
                                  std::to_string(s.first_row + s.n) + ") of " + std::to_string(s.rows) + " zdim " +
                                  std::to_string(s.zdim) + " seed " + std::to_string(k.seed) + " step " +
                                  std::to_string(k.step);
      std::vector<Checked> outputs;
      reparam_oracle(ml, s.n, s.zdim, k, true, twin_bits, outputs, s.first_row);
      {  // the twin's slice is the whole batch's rows
        std::vector<float> z(row_at(s.rows)), eps(row_at(s.rows));
        cpu::vae_reparam_forward(z.data(), eps.data(), whole_ml.data(), s.rows, s.zdim, k.seed, k.step, true, 0);
        const auto rows_of = [&](const std::vector<float>& v) {
          return std::vector<float>(v.begin() + std::ptrdiff_t(row_at(s.first_row)),
                                    v.begin() + std::ptrdiff_t(row_at(s.first_row + s.n)));
        };
        INFO(context << ": the twin's slice is not the whole batch's rows");
        CHECK(same_bits(outputs[0].expected.ref, rows_of(z)));
        CHECK(same_bits(outputs[1].expected.ref, rows_of(eps)));
      }
      std::vector<Checked> both = outputs;   // the host-step launch, then the device-step one
      both.insert(both.end(), outputs.begin(), outputs.end());
      // Each pointer one float off alone (1 z, 2 eps, 3 mu_logvar; 0 none): the kernel's loads and
      // stores are scalar, so any float alignment must give the same bits.
      for (int off = 0; off < 4; ++off) {
        const auto padded = [&](int which, std::vector<float> v) {
          if (off == which) v.insert(v.begin(), NAN);
          return v;
        };
        const std::vector<float> blank(std::size_t(s.n) * s.zdim, NAN);
        const Producer produce = [&]() -> Outputs {
          DeviceBuffer<float> d_ml(kernel_memory(), padded(3, ml)), z(kernel_memory(), padded(1, blank)),
              eps(kernel_memory(), padded(2, blank));
          float* zp = z.data() + (off == 1);
          float* ep = eps.data() + (off == 2);
          const float* mp = d_ml.data() + (off == 3);
          DeviceBuffer<int64_t> step(kernel_memory(), std::vector<int64_t>{k.step});
          const auto read = [&](const DeviceBuffer<float>& b, int which) {
            std::vector<float> v = b.download();
            if (off == which) v.erase(v.begin());
            return v;
          };
          kns::vae_reparam_forward(zp, ep, mp, s.n, s.zdim, k.seed, k.step, true, s.first_row, nullptr);
          Outputs out{read(z, 1), read(eps, 2)};
          kns::vae_reparam_forward_device(zp, ep, mp, s.n, s.zdim, k.seed, step.data(), true, s.first_row, nullptr);
          out.push_back(read(z, 1));
          out.push_back(read(eps, 2));
          return out;
        };
        check_vae_runs(repeat, produce, both, context + (off ? " (pointer " + std::to_string(off) + " one float off)" : ""));
      }
    }
  }
}

// ---- reparameterization backward (accumulates into d_mu_logvar) ----

inline void check_reparam_backward(const Repeater& repeat, TwinBits twin_bits,
                                   const std::vector<LatentShape>& shapes = latent_shapes()) {
  uint32_t seed = 700;
  for (const LatentShape& s : shapes) {
    const std::vector<float> ml = make_mu_logvar(s.n, s.zdim, seed += 3);
    const std::vector<float> dz = random_floats(std::size_t(s.n) * s.zdim, seed + 100);
    const std::vector<float> d0 = random_floats(ml.size(), seed + 200);
    std::vector<float> z(dz.size()), eps(dz.size());
    cpu::vae_reparam_forward(z.data(), eps.data(), ml.data(), s.n, s.zdim, 9, 4, true, 0);
    Expected e{"d_mu_logvar", d0, std::vector<double>(ml.size()), kReparamGradRtol};
    cpu::vae_reparam_backward(e.ref.data(), dz.data(), eps.data(), ml.data(), s.n, s.zdim);
    for (int i = 0; i < s.n; ++i)
      for (int j = 0; j < s.zdim; ++j) {
        const std::size_t mu_at = std::size_t(i) * 2 * s.zdim + j, lv_at = mu_at + s.zdim;
        const double g = dz[std::size_t(i) * s.zdim + j], ep = eps[std::size_t(i) * s.zdim + j];
        const double lv = std::fmin(std::fmax(double(ml[lv_at]), kLogVarMin), kLogVarMax);
        e.magnitude[mu_at] = std::fabs(d0[mu_at]) + std::fabs(g);
        e.magnitude[lv_at] = std::fabs(d0[lv_at]) + std::fabs(g * ep * 0.5 * std::exp(0.5 * lv));
      }
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> grad(kernel_memory(), d0), d_dz(kernel_memory(), dz), d_eps(kernel_memory(), eps),
          d_ml(kernel_memory(), ml);
      kns::vae_reparam_backward(grad.data(), d_dz.data(), d_eps.data(), d_ml.data(), s.n, s.zdim, nullptr);
      return {grad.download()};
    };
    check_vae_runs(repeat, produce, {{e, twin_bits == TwinBits::Yes}},
                   "vae_reparam_backward n " + std::to_string(s.n) + " zdim " + std::to_string(s.zdim));
  }
}

// ---- the fused loss ----

struct LossCase {
  int n, dim, zdim;
  float beta;
};
// dim below, at and above a block of 256 (not multiples of it), zdim above a block, beta 0; n 130:
// version 1's KL kernel takes a second block of 128 samples.
inline const std::vector<LossCase>& vae_loss_cases() {
  static const std::vector<LossCase> cases = {{1, 1, 1, 1.f},    {3, 784, 2, 1.f},  {3, 784, 16, 0.5f}, {2, 37, 300, 2.f},
                                              {3, 1000, 3, 0.f}, {1, 256, 5, 1.f}, {130, 5, 3, 1.f}};
  return cases;
}
inline const std::vector<LossCase>& vae_batch_cases() {   // batch 128 of 28 x 28, z_dim 2 and 16
  static const std::vector<LossCase> cases = {{128, 784, 2, 1.f}, {128, 784, 16, 1.f}};
  return cases;
}

inline void check_vae_loss(const Repeater& repeat, int version, TwinBits twin_bits,
                           const std::vector<LossCase>& cases = vae_loss_cases()) {
  uint32_t seed = 800;
  int case_index = 0;
  for (const LossCase& c : cases) {
    // Every third case skips one of the gradients (nullable), which must leave the rest intact.
    const bool want_dpred = case_index % 3 != 1, want_dlatent = case_index % 3 != 2;
    ++case_index;
    std::vector<float> pred, target;
    make_loss_inputs(c.n, c.dim, seed += 3, pred, target);
    const std::vector<float> ml = make_mu_logvar(c.n, c.zdim, seed + 1);
    const std::size_t n = std::size_t(c.n);

    std::vector<float> losses(3 * n), dpred(pred.size()), dml(ml.size());
    cpu::vae_loss(losses.data(), dpred.data(), dml.data(), pred.data(), target.data(), ml.data(), c.n, c.dim, c.zdim,
                  c.beta);
    // losses = [total | recon | kl]: one output per row, each with its own tolerance.
    Expected e_total{"total", std::vector<float>(losses.begin(), losses.begin() + c.n), std::vector<double>(n),
                     kTotalRtol};
    Expected e_recon{"recon", std::vector<float>(losses.begin() + c.n, losses.begin() + 2 * c.n), {}, kReconRtol};
    Expected e_kl{"kl", std::vector<float>(losses.begin() + 2 * c.n, losses.end()), std::vector<double>(n), kKlRtol};
    for (std::size_t i = 0; i < n; ++i) {
      double mag = 0;
      for (int j = 0; j < c.zdim; ++j) {
        const double mu = ml[i * 2 * c.zdim + j];
        const double lv = std::fmin(std::fmax(double(ml[i * 2 * c.zdim + c.zdim + j]), kLogVarMin), kLogVarMax);
        mag += std::fabs(std::expm1(lv)) + std::fabs(lv) + mu * mu;
      }
      e_kl.magnitude[i] = 0.5 * mag;
      e_total.magnitude[i] = std::fabs(e_recon.ref[i]) + double(c.beta) * 0.5 * mag;
    }
    Expected e_dpred{"dpred", dpred, {}, kDpredRtol};
    Expected e_dml{"d_mu_logvar", dml, {}, kLatentGradRtol};
    const bool exact = twin_bits == TwinBits::Yes;
    std::vector<Checked> outputs{{e_total, false}, {e_recon, false}, {e_kl, false}};
    if (want_dpred) outputs.push_back({e_dpred, exact});
    if (want_dlatent) outputs.push_back({e_dml, exact});

    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> d_pred(kernel_memory(), pred), d_target(kernel_memory(), target), d_ml(kernel_memory(), ml),
          d_losses(kernel_memory(), std::vector<float>(3 * n, NAN)),
          d_dpred(kernel_memory(), std::vector<float>(pred.size(), NAN)),
          d_dml(kernel_memory(), std::vector<float>(ml.size(), NAN));
      kns::vae_loss(d_losses.data(), want_dpred ? d_dpred.data() : nullptr, want_dlatent ? d_dml.data() : nullptr,
                    d_pred.data(), d_target.data(), d_ml.data(), c.n, c.dim, c.zdim, c.beta, nullptr, version);
      const std::vector<float> l = d_losses.download();
      Outputs out{{l.begin(), l.begin() + c.n}, {l.begin() + c.n, l.begin() + 2 * c.n}, {l.begin() + 2 * c.n, l.end()}};
      if (want_dpred) out.push_back(d_dpred.download());
      if (want_dlatent) out.push_back(d_dml.download());
      return out;
    };
    check_vae_runs(repeat, produce, outputs,
                   "vae_loss v" + std::to_string(version) + " n " + std::to_string(c.n) + " dim " +
                       std::to_string(c.dim) + " zdim " + std::to_string(c.zdim) + " beta " + std::to_string(c.beta) +
                       (want_dpred ? "" : " (no dpred)") + (want_dlatent ? "" : " (no d_mu_logvar)"));
  }
}

// ---- argument checks (before any launch) ----

inline void check_vae_bad_arguments() {
  DeviceBuffer<float> a(kernel_memory(), std::vector<float>(64, 0.5f)),
      b(kernel_memory(), std::vector<float>(64, 0.5f)), c(kernel_memory(), std::vector<float>(64, 0.f));
  CHECK_THROWS_AS(kns::vae_loss(c.data(), nullptr, nullptr, a.data(), b.data(), a.data(), 0, 4, 2, 1.f, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_loss(c.data(), nullptr, nullptr, a.data(), b.data(), a.data(), 2, 4, 0, 1.f, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_loss(c.data(), nullptr, nullptr, nullptr, b.data(), a.data(), 2, 4, 2, 1.f, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_loss(c.data(), nullptr, nullptr, a.data(), b.data(), a.data(), 2, 4, 2, -1.f, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_loss(c.data(), nullptr, nullptr, a.data(), b.data(), a.data(), 2, 4, 2, INFINITY, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_loss(c.data(), nullptr, nullptr, a.data(), b.data(), a.data(), 2, 4, 2, 1.f, nullptr, 3),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_reparam_forward(c.data(), nullptr, a.data(), 2, 2, 1, 1, true, 0, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_reparam_forward(c.data(), b.data(), a.data(), 2, 0, 1, 1, true, 0, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_reparam_forward_device(c.data(), b.data(), a.data(), 2, 2, 1, nullptr, true, 0, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_reparam_forward(c.data(), b.data(), a.data(), 2, 2, 1, 1, true, -1, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_reparam_backward(c.data(), nullptr, b.data(), a.data(), 2, 2, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::vae_philox_words(nullptr, 4, 1, 1, nullptr), std::invalid_argument);
}

}  // namespace zs::vae_checks
