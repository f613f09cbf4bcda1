// Which vector instructions the CPU twin runs: chosen once, at the first op, from what the CPU
// offers AND what the OS has enabled, then lowered on request by the environment variable
// ZS_CPU_ISA. One binary runs everywhere from x86-64-v3 (AVX2 + FMA, the baseline every file of
// kernels/cpu is compiled for) up; the wider paths live in functions compiled with their own
// target attributes and are only ever called through this dispatch.
//
// Paths, narrowest first (each needs the ones before it):
//   avx2    x86-64-v3: AVX2 + FMA (the baseline; the CPU twin does not run without it)
//   avx512  AVX-512 F + BW + VL + DQ, with the OS saving the opmask and zmm state (XCR0 bits 5-7)
// Ops with an avx512 version: the panel GEMM (gemm_panels_avx512.cpp: the convolutions and the
// KMeans distances) and the element-wise loops (elementwise_avx512.cpp).
// AVX512_BF16 (vdpbf16ps) serves the opt-in bf16 convolution GEMMs (ConvPrecision below), on top of
// avx512. AMX-TILE/AMX-BF16 (with the OS's tile state, XCR0 bits 17-18) is detected and reported,
// not yet used.
#pragma once
#include <string>

namespace zs::cpu {

enum class CpuIsa : int { kAvx2 = 0, kAvx512 = 1 };
inline constexpr CpuIsa kWidestCpuIsa = CpuIsa::kAvx512;

// What CPUID and XGETBV say, each flag already combined with the OS-enabled state it needs.
struct CpuFeatures {
  bool avx2_fma = false;     // AVX2 + FMA, OS saves ymm state
  bool avx512 = false;       // AVX-512 F/BW/VL/DQ, OS saves opmask + zmm state
  bool avx512_bf16 = false;  // AVX512_BF16 (vdpbf16ps), and avx512
  bool amx_bf16 = false;     // AMX-TILE + AMX-BF16, OS saves tile state (XCR0 bits 17, 18)
};
CpuFeatures detect_cpu_features();

const char* cpu_isa_name(CpuIsa isa);  // "avx2", "avx512": the values ZS_CPU_ISA takes
bool cpu_supports(const CpuFeatures& f, CpuIsa isa);
CpuIsa widest_supported(const CpuFeatures& f);

// The path for a ZS_CPU_ISA value (null or empty: the widest supported). On a value that is not a
// path name, or names a path this CPU/OS lacks, returns false and sets `error` to one line that
// names the problem and the fix.
bool choose_cpu_isa(const char* requested, const CpuFeatures& f, CpuIsa& isa, std::string& error);

// The path the CPU twin's ops run: chosen on the first call from ZS_CPU_ISA and the CPU (throws
// std::invalid_argument with choose_cpu_isa's message when ZS_CPU_ISA is bad), or the one a
// ScopedCpuIsa forces. Cheap: one relaxed atomic load after the first call.
CpuIsa active_cpu_isa();

// ZS_CPU_ISA's problem, if any ("" when it is unset or valid): drivers call it at start-up to
// report a bad value as user error (exit 2) before any work starts.
std::string cpu_isa_env_problem();

// One line for --version and logs: the active path, then what the CPU offers, e.g.
// "avx512 (cpu offers avx2 avx512 avx512_bf16; amx no)".
std::string cpu_isa_summary();

// Tests and benchmarks: run the ops on `isa` while this object lives (throws std::invalid_argument
// when the CPU lacks it). Not for use while ops run on other threads.
class ScopedCpuIsa {
 public:
  explicit ScopedCpuIsa(CpuIsa isa);
  ~ScopedCpuIsa();
  ScopedCpuIsa(const ScopedCpuIsa&) = delete;
  ScopedCpuIsa& operator=(const ScopedCpuIsa&) = delete;

 private:
  int saved_;
};

// The precision of the convolutions' GEMMs (gemm_panels.h), process-wide, fp32 by default.
// kBf16: the GEMM inputs are rounded to bf16 (round to nearest even) and multiplied with fp32
// accumulation (vdpbf16ps); everything else (weights, Adam state, activations, their gradients,
// the loss) stays fp32, as PyTorch's CPU autocast does. Needs the avx512 path AND AVX512_BF16.
enum class ConvPrecision : int { kFp32 = 0, kBf16 = 1 };
const char* conv_precision_name(ConvPrecision p);  // "fp32", "bf16"
bool bf16_available();  // AVX512_BF16 present and the active path is avx512
// Sets the precision; throws std::invalid_argument (naming the fix) when bf16 is not available.
// Set it before ops run (drivers: at start-up), not while they run on other threads.
void set_conv_precision(ConvPrecision p);
ConvPrecision conv_precision();

}  // namespace zs::cpu
