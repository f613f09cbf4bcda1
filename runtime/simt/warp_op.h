// The collective operations of a warp and of a block, as the scheduler sees them.
#pragma once
#include <cstdint>

namespace zs::simt {

enum class WarpOp : uint8_t { ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All, SyncWarp };

// The CUDA name of an op, for messages.
inline const char* warp_op_name(WarpOp op) {
  switch (op) {
    case WarpOp::ShflIdx: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::All: return "__all_sync";
    case WarpOp::SyncWarp: return "__syncwarp";
  }
  return "?";
}

inline bool is_shuffle(WarpOp op) { return op <= WarpOp::ShflXor; }

// What __syncthreads, __syncthreads_count, _and and _or return for a released barrier.
struct BarrierResult {
  int count = 0;   // threads whose predicate was non-zero
  int total = 0;   // threads that took part
};

}  // namespace zs::simt
