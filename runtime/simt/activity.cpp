#include "runtime/simt/activity.h"

namespace zs::simt {

Activity& current_activity() {
  thread_local Activity activity;
  return activity;
}

}  // namespace zs::simt
