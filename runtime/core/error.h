// Two kinds of failure. UserError: bad input the user can fix (missing or corrupt file,
// impossible option, NaN loss...): the driver prints its message and exits 2. Anything else
// (std::runtime_error from CUDA_CHECK and friends) is an internal error: exit 1.
#pragma once
#include <stdexcept>
#include <string>

namespace zs {

struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace zs
