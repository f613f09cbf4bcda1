// Source locations and the error a failed kernel raises in the emulator.
//
// The emulator's intrinsic macros (__syncthreads(), __shfl_sync(...) ...) capture __FILE__ and
// __LINE__ so that strict mode can name the line at fault. A kernel that cannot complete
// (strict-mode violation, deadlock, an exception thrown by device code) makes its launch throw
// KernelError on the host thread that launched it.
#pragma once
#include <stdexcept>

namespace zs::simt {

struct Site {
  const char* file = "?";
  int line = 0;
};

class KernelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace zs::simt

#define ZS_SIMT_HERE (::zs::simt::Site{__FILE__, __LINE__})
