// GPU benchmarks of the convolution kernels (kernels/conv2d.cu) on the blog's three geometries at
// batch 128 (bench/conv_shapes.h), for each op (forward, backward-data = Conv2DTranspose forward,
// backward-weight):
//   zs_v<N>       every kernel version; forward and backward-data with bias + LeakyReLU fused,
//                 backward-weight with db (what the model runs)
//   cudnn_fma     cuDNN, the algorithm cudnnFind* ranks fastest, NCHW fp32, CUDNN_FMA_MATH (no
//                 tensor cores: the fair fp32 baseline); the bare convolution (no bias/activation,
//                 no db), so the comparison is conservative for zs
//   cudnn_default the same with CUDNN_DEFAULT_MATH (cuDNN may pick TF32 tensor cores)
//                 (the label names cuDNN's algorithm and math type: 3 = FMA, 0 = default, 1 = tensor op)
//   cpu           the CPU twin (kernels/cpu), wall time
// TF 'same' padding with cuDNN: cuDNN pads symmetrically, so the input is stored with the extra
// bottom/right zero rows and columns of the stride-2 layers (29x29, 15x15) and cuDNN gets the
// symmetric top/left pad; backward-data writes that padded dx and the extra row/column is dropped.
// The padding copy is not timed (it flatters cuDNN slightly).
// GPU times are cudaEvent times of the op alone (manual time), with the L2 flushed before each
// iteration by writing a buffer twice its size. Counters: FLOPS = 2 * multiply-adds per second,
// bytes_per_second = the op's compulsory traffic (inputs read once, outputs written once).
#include "bench/cuda_bench_support.h"
#if defined(ZS_HAVE_CUDNN)
#include <cudnn.h>
#endif

#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/conv_shapes.h"
#include "kernels/conv2d.cuh"
#include "kernels/cpu/ops.h"

namespace {

using zs::Act;
using zs::ConvGeom;

constexpr int kBatch = 128;

enum class Op { Forward, BackwardData, BackwardWeight };
constexpr Op kOps[] = {Op::Forward, Op::BackwardData, Op::BackwardWeight};

const char* op_name(Op op) {
  switch (op) {
    case Op::Forward: return "fwd";
    case Op::BackwardData: return "bwd_data";
    case Op::BackwardWeight: return "bwd_weight";
  }
  return "?";
}

using zs::bench_cuda::random_floats;
using zs::bench_cuda::time_on_gpu;

using zs::bench_cuda::DeviceBuffer;
using zs::bench_cuda::kernel_memory;
using zs::bench_cuda::random_device_floats;

// Every tensor of one geometry, random.
struct ConvTensors {
  explicit ConvTensors(const ConvGeom& g)
      : x(random_device_floats(kernel_memory(), size_t(g.x_size()), 1)),
        w(random_device_floats(kernel_memory(), size_t(g.w_size()), 2)),
        b(random_device_floats(kernel_memory(), size_t(g.k), 3)),
        bias_c(random_device_floats(kernel_memory(), size_t(g.c), 4)),
        dy(random_device_floats(kernel_memory(), size_t(g.y_size()), 5)), y(kernel_memory(), size_t(g.y_size())),
        dx(kernel_memory(), size_t(g.x_size())), dw(kernel_memory(), size_t(g.w_size())),
        db(kernel_memory(), size_t(g.k)), workspace(kernel_memory(), zs::cuda::conv2d_backward_weight_workspace(g)) {}
  DeviceBuffer<float> x, w, b, bias_c, dy, y, dx, dw, db, workspace;
};

void set_counters(benchmark::State& state, const ConvGeom& g, Op op) {
  const double flops = 2.0 * double(g.macs());
  double floats = double(g.w_size());
  switch (op) {
    case Op::Forward: floats += double(g.x_size() + g.y_size() + g.k); break;
    case Op::BackwardData: floats += double(g.y_size() + g.x_size() + g.c); break;
    case Op::BackwardWeight: floats += double(g.x_size() + g.y_size() + g.k); break;
  }
  state.counters["FLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes_per_second"] =
      benchmark::Counter(4.0 * floats, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_zs(benchmark::State& state, const ConvGeom& g, Op op, int version) {
  ConvTensors t(g);
  time_on_gpu(state, [&](cudaStream_t stream) {
    switch (op) {
      case Op::Forward:
        zs::cuda::conv2d_forward(g, t.y.data(), t.x.data(), t.w.data(), t.b.data(), Act::LeakyRelu, stream, version);
        break;
      case Op::BackwardData:
        zs::cuda::conv2d_backward_data(g, t.dx.data(), t.dy.data(), t.w.data(), t.bias_c.data(), Act::LeakyRelu, stream,
                                       version);
        break;
      case Op::BackwardWeight:
        zs::cuda::conv2d_backward_weight(g, t.dw.data(), t.db.data(), t.x.data(), t.dy.data(),
                                         version == 1 ? nullptr : t.workspace.data(), stream, version);
        break;
    }
  });
  set_counters(state, g, op);
}

void bench_cpu(benchmark::State& state, const ConvGeom& g, Op op) {
  const std::vector<float> x = random_floats(g.x_size(), 1), w = random_floats(g.w_size(), 2),
                           b = random_floats(g.k, 3), bias_c = random_floats(g.c, 4), dy = random_floats(g.y_size(), 5);
  std::vector<float> y(size_t(g.y_size())), dx(size_t(g.x_size())), dw(size_t(g.w_size())), db(size_t(g.k));
  for (auto _ : state) {
    switch (op) {
      case Op::Forward: zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), b.data(), Act::LeakyRelu); break;
      case Op::BackwardData:
        zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), bias_c.data(), Act::LeakyRelu);
        break;
      case Op::BackwardWeight: zs::cpu::conv2d_backward_weight(g, dw.data(), db.data(), x.data(), dy.data()); break;
    }
    benchmark::ClobberMemory();
  }
  set_counters(state, g, op);
}

#if defined(ZS_HAVE_CUDNN)

#define CUDNN_CHECK(expr)                                                                                  \
  do {                                                                                                     \
    const cudnnStatus_t zs_cudnn_status_ = (expr);                                                         \
    if (zs_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                                          \
      throw std::runtime_error(std::string("cuDNN error in ") + #expr + ": " +                             \
                               cudnnGetErrorString(zs_cudnn_status_));                                     \
  } while (0)

// One geometry as cuDNN sees it: symmetric pads of pad_top/pad_left, and an input that carries
// the rest of TF's 'same' padding (bottom/right) as stored zeros.
class CudnnConv {
 public:
  CudnnConv(const ConvGeom& g, cudnnMathType_t math) : g_(g) {
    extra_h_ = (g.p - 1) * g.stride + g.r - g.h - 2 * g.pad_top;
    extra_w_ = (g.q - 1) * g.stride + g.s - g.w - 2 * g.pad_left;
    if (extra_h_ < 0) extra_h_ = 0;
    if (extra_w_ < 0) extra_w_ = 0;
    hp_ = g.h + extra_h_;
    wp_ = g.w + extra_w_;
    CUDNN_CHECK(cudnnCreate(&handle_));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_desc_));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_desc_));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_desc_));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_desc_));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_desc_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g.n, g.c, hp_, wp_));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_desc_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g.n, g.k, g.p, g.q));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_desc_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g.k, g.c, g.r, g.s));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_desc_, g.pad_top, g.pad_left, g.stride, g.stride, 1, 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv_desc_, math));
    int n = 0, c = 0, h = 0, w = 0;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv_desc_, x_desc_, w_desc_, &n, &c, &h, &w));
    if (h != g.p || w != g.q) throw std::runtime_error("cuDNN geometry does not reproduce TF 'same'");
    x_pad_ = padded_input();
    dx_pad_ = DeviceBuffer<float>(kernel_memory(), size_t(g.n) * g.c * hp_ * wp_);
  }
  ~CudnnConv() {
    cudnnDestroyConvolutionDescriptor(conv_desc_);
    cudnnDestroyFilterDescriptor(w_desc_);
    cudnnDestroyTensorDescriptor(y_desc_);
    cudnnDestroyTensorDescriptor(x_desc_);
    cudnnDestroy(handle_);
  }
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // Picks cudnnFind*'s fastest algorithm for `op` and sizes the workspace; returns its name.
  std::string prepare(Op op, const ConvTensors& t) {
    switch (op) {
      case Op::Forward: {
        int count = 0, returned = 0;
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle_, &count));
        std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(count));
        CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(handle_, x_desc_, w_desc_, conv_desc_, y_desc_, count,
                                                         &returned, perf.data()));
        const auto& best = first_success(perf, returned);
        fwd_algo_ = best.algo;
        use(best.mathType, best.memory);
        return "fwd algo " + std::to_string(int(best.algo)) + " math " + std::to_string(int(best.mathType));
      }
      case Op::BackwardData: {
        int count = 0, returned = 0;
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle_, &count));
        std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<size_t>(count));
        CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(handle_, w_desc_, y_desc_, conv_desc_, x_desc_, count,
                                                              &returned, perf.data()));
        const auto& best = first_success(perf, returned);
        bwd_data_algo_ = best.algo;
        use(best.mathType, best.memory);
        return "bwd data algo " + std::to_string(int(best.algo)) + " math " + std::to_string(int(best.mathType));
      }
      case Op::BackwardWeight: {
        int count = 0, returned = 0;
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle_, &count));
        std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<size_t>(count));
        CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(handle_, x_desc_, y_desc_, conv_desc_, w_desc_, count,
                                                                &returned, perf.data()));
        const auto& best = first_success(perf, returned);
        bwd_filter_algo_ = best.algo;
        use(best.mathType, best.memory);
        return "bwd filter algo " + std::to_string(int(best.algo)) + " math " + std::to_string(int(best.mathType));
      }
    }
    (void)t;
    return {};
  }

  void run(Op op, ConvTensors& t, cudaStream_t stream) {
    const float one = 1.f, zero = 0.f;
    CUDNN_CHECK(cudnnSetStream(handle_, stream));
    switch (op) {
      case Op::Forward:
        CUDNN_CHECK(cudnnConvolutionForward(handle_, &one, x_desc_, x_pad_.data(), w_desc_, t.w.data(), conv_desc_,
                                            fwd_algo_, workspace_.data(), workspace_.bytes(), &zero, y_desc_,
                                            t.y.data()));
        break;
      case Op::BackwardData:
        CUDNN_CHECK(cudnnConvolutionBackwardData(handle_, &one, w_desc_, t.w.data(), y_desc_, t.dy.data(), conv_desc_,
                                                 bwd_data_algo_, workspace_.data(), workspace_.bytes(), &zero, x_desc_,
                                                 dx_pad_.data()));
        break;
      case Op::BackwardWeight:
        CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle_, &one, x_desc_, x_pad_.data(), y_desc_, t.dy.data(),
                                                   conv_desc_, bwd_filter_algo_, workspace_.data(), workspace_.bytes(),
                                                   &zero, w_desc_, t.dw.data()));
        break;
    }
  }

 private:
  template <class Perf>
  static const Perf& first_success(const std::vector<Perf>& perf, int returned) {
    for (int i = 0; i < returned; ++i)   // sorted fastest first
      if (perf[size_t(i)].status == CUDNN_STATUS_SUCCESS) return perf[size_t(i)];
    throw std::runtime_error("cudnnFind* found no working algorithm");
  }
  void use(cudnnMathType_t math, size_t workspace_bytes) {
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv_desc_, math));
    workspace_ = DeviceBuffer<float>(kernel_memory(), (workspace_bytes + sizeof(float) - 1) / sizeof(float));
  }
  // Random x stored with the extra bottom/right rows and columns as zeros.
  DeviceBuffer<float> padded_input() const {
    const std::vector<float> x = random_floats(g_.x_size(), 1);
    std::vector<float> padded(size_t(g_.n) * g_.c * hp_ * wp_, 0.f);
    for (int64_t plane = 0; plane < int64_t(g_.n) * g_.c; ++plane)
      for (int h = 0; h < g_.h; ++h)
        for (int w = 0; w < g_.w; ++w)
          padded[size_t((plane * hp_ + h) * wp_ + w)] = x[size_t((plane * g_.h + h) * g_.w + w)];
    return DeviceBuffer<float>(kernel_memory(), padded);
  }

  ConvGeom g_;
  int extra_h_ = 0, extra_w_ = 0, hp_ = 0, wp_ = 0;
  cudnnHandle_t handle_ = nullptr;
  cudnnTensorDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  cudnnFilterDescriptor_t w_desc_ = nullptr;
  cudnnConvolutionDescriptor_t conv_desc_ = nullptr;
  cudnnConvolutionFwdAlgo_t fwd_algo_{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo_{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo_{};
  DeviceBuffer<float> x_pad_, dx_pad_, workspace_;
};

void bench_cudnn(benchmark::State& state, const ConvGeom& g, Op op, cudnnMathType_t math) {
  ConvTensors t(g);
  CudnnConv conv(g, math);
  state.SetLabel(conv.prepare(op, t));
  time_on_gpu(state, [&](cudaStream_t stream) { conv.run(op, t, stream); });
  set_counters(state, g, op);
}

#endif  // ZS_HAVE_CUDNN

void register_benchmarks() {
  for (const auto& geometry : zs::bench::blog_conv_geometries(kBatch)) {
    const ConvGeom g = geometry.g;
    for (Op op : kOps) {
      const std::string prefix = std::string(op_name(op)) + "/" + geometry.name + "/";
      const int versions = op == Op::Forward        ? zs::cuda::kConvForwardKernelVersions
                           : op == Op::BackwardData ? zs::cuda::kConvBackwardDataKernelVersions
                                                    : zs::cuda::kConvBackwardWeightKernelVersions;
      for (int v = 1; v <= versions; ++v)
        benchmark::RegisterBenchmark((prefix + "zs_v" + std::to_string(v)).c_str(),
                                     [g, op, v](benchmark::State& s) { bench_zs(s, g, op, v); })
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
#if defined(ZS_HAVE_CUDNN)
      benchmark::RegisterBenchmark((prefix + "cudnn_fma").c_str(),
                                   [g, op](benchmark::State& s) { bench_cudnn(s, g, op, CUDNN_FMA_MATH); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark((prefix + "cudnn_default").c_str(),
                                   [g, op](benchmark::State& s) { bench_cudnn(s, g, op, CUDNN_DEFAULT_MATH); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
#endif
      benchmark::RegisterBenchmark((prefix + "cpu").c_str(), [g, op](benchmark::State& s) { bench_cpu(s, g, op); })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("bench_cuda_conv: no CUDA GPU found; nothing to measure\n");
    return 0;
  }
#if !defined(ZS_HAVE_CUDNN)
  std::printf("bench_cuda_conv: built without cuDNN; no cuDNN baseline\n");
#endif
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
