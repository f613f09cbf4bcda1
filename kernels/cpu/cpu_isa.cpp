// Run-time ISA detection and the ZS_CPU_ISA override (cpu_isa.h).
//
// A feature is usable only when the CPU has it (CPUID) AND the OS saves its registers on context
// switches (XCR0, read with XGETBV once CPUID says OSXSAVE): a kernel or hypervisor can hide
// AVX-512 or AMX state even where the silicon has it, and running the instructions then faults.
#include "kernels/cpu/cpu_isa.h"

#include <cpuid.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

namespace zs::cpu {
namespace {

struct Regs {
  uint32_t a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r;
  if (!__get_cpuid_count(leaf, subleaf, &r.a, &r.b, &r.c, &r.d)) return {};
  return r;
}

// XCR0: the state components the OS saves. Only valid to read when CPUID.1:ECX.OSXSAVE is set.
uint64_t xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

bool bit(uint32_t reg, int n) { return (reg >> n) & 1u; }

constexpr uint64_t kXcr0Ymm = (1u << 1) | (1u << 2);               // SSE + AVX state
constexpr uint64_t kXcr0Zmm = (1u << 5) | (1u << 6) | (1u << 7);   // opmask, ZMM_Hi256, Hi16_ZMM
constexpr uint64_t kXcr0Tile = (uint64_t(1) << 17) | (uint64_t(1) << 18);  // XTILECFG, XTILEDATA

// -1: no ScopedCpuIsa active; otherwise the forced CpuIsa.
std::atomic<int> g_forced{-1};
std::atomic<int> g_precision{int(ConvPrecision::kFp32)};

const CpuFeatures& features() {
  static const CpuFeatures f = detect_cpu_features();
  return f;
}

CpuIsa chosen_at_start() {
  static const CpuIsa isa = [] {
    CpuIsa chosen = CpuIsa::kAvx2;
    std::string error;
    if (!choose_cpu_isa(std::getenv("ZS_CPU_ISA"), detect_cpu_features(), chosen, error))
      throw std::invalid_argument(error);
    return chosen;
  }();
  return isa;
}

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
  const Regs l0 = cpuid(0, 0);
  if (l0.a < 7) return f;
  const Regs l1 = cpuid(1, 0);
  if (!bit(l1.c, 27)) return f;  // OSXSAVE: without it XCR0 cannot be read and no AVX state is saved
  const uint64_t os = xcr0();
  const Regs l7 = cpuid(7, 0);
  const Regs l7s1 = l7.a >= 1 ? cpuid(7, 1) : Regs{};
  const bool os_ymm = (os & kXcr0Ymm) == kXcr0Ymm;
  const bool os_zmm = os_ymm && (os & kXcr0Zmm) == kXcr0Zmm;
  const bool os_tile = (os & kXcr0Tile) == kXcr0Tile;
  f.avx2_fma = os_ymm && bit(l1.c, 28) && bit(l1.c, 12) && bit(l7.b, 5);  // AVX, FMA, AVX2
  // F (16), DQ (17), BW (30), VL (31)
  f.avx512 = f.avx2_fma && os_zmm && bit(l7.b, 16) && bit(l7.b, 17) && bit(l7.b, 30) && bit(l7.b, 31);
  f.avx512_bf16 = f.avx512 && bit(l7s1.a, 5);
  f.amx_bf16 = os_tile && bit(l7.d, 24) && bit(l7.d, 22);  // AMX-TILE, AMX-BF16
  return f;
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
  }
  return "?";
}

bool cpu_supports(const CpuFeatures& f, CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx2: return true;  // the baseline the library is compiled for
    case CpuIsa::kAvx512: return f.avx512;
  }
  return false;
}

CpuIsa widest_supported(const CpuFeatures& f) { return f.avx512 ? CpuIsa::kAvx512 : CpuIsa::kAvx2; }

bool choose_cpu_isa(const char* requested, const CpuFeatures& f, CpuIsa& isa, std::string& error) {
  if (!requested || !*requested) {
    isa = widest_supported(f);
    return true;
  }
  const std::string want(requested);
  for (int i = 0; i <= int(kWidestCpuIsa); ++i) {
    const CpuIsa candidate = CpuIsa(i);
    if (want != cpu_isa_name(candidate)) continue;
    if (!cpu_supports(f, candidate)) {
      error = "ZS_CPU_ISA=" + want + ": this CPU (or its OS) does not support " + want + "; use ZS_CPU_ISA=" +
              cpu_isa_name(widest_supported(f)) + " or lower, or unset it";
      return false;
    }
    isa = candidate;
    return true;
  }
  error = "ZS_CPU_ISA=" + want + ": unknown instruction set; use avx2 or avx512, or unset it for the widest";
  return false;
}

CpuIsa active_cpu_isa() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  return forced >= 0 ? CpuIsa(forced) : chosen_at_start();
}

std::string cpu_isa_env_problem() {
  CpuIsa isa = CpuIsa::kAvx2;
  std::string error;
  choose_cpu_isa(std::getenv("ZS_CPU_ISA"), detect_cpu_features(), isa, error);
  return error;
}

std::string cpu_isa_summary() {
  const CpuFeatures f = detect_cpu_features();
  std::string offers = f.avx2_fma ? "avx2" : "no avx2";
  if (f.avx512) offers += " avx512";
  if (f.avx512_bf16) offers += " avx512_bf16";
  const char* env = std::getenv("ZS_CPU_ISA");
  std::string forced = env && *env ? std::string("; ZS_CPU_ISA=") + env : "";
  return std::string(cpu_isa_name(active_cpu_isa())) + " (cpu offers " + offers + "; amx " +
         (f.amx_bf16 ? "yes" : "no") + forced + ")";
}

const char* conv_precision_name(ConvPrecision p) { return p == ConvPrecision::kBf16 ? "bf16" : "fp32"; }

bool bf16_available() { return features().avx512_bf16 && active_cpu_isa() >= CpuIsa::kAvx512; }

void set_conv_precision(ConvPrecision p) {
  if (p == ConvPrecision::kBf16 && !bf16_available())
    throw std::invalid_argument(std::string("bf16 needs AVX512_BF16 on the avx512 path; this run has ") +
                                cpu_isa_summary() + "; use fp32");
  g_precision.store(int(p));
}

ConvPrecision conv_precision() { return ConvPrecision(g_precision.load(std::memory_order_relaxed)); }

ScopedCpuIsa::ScopedCpuIsa(CpuIsa isa) : saved_(g_forced.load()) {
  if (!cpu_supports(features(), isa))
    throw std::invalid_argument(std::string("ScopedCpuIsa: this CPU does not support ") + cpu_isa_name(isa));
  g_forced.store(int(isa));
}

ScopedCpuIsa::~ScopedCpuIsa() { g_forced.store(saved_); }

}  // namespace zs::cpu
