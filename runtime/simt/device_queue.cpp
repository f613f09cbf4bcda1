#include "runtime/simt/device_queue.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "runtime/simt/activity.h"
#include "runtime/simt/cuda_api.h"
#include "runtime/simt/device_heap.h"

namespace zs::simt::queue {
namespace {

struct StreamState;
struct Op;
using OpPtr = std::shared_ptr<Op>;

// A queued operation. `deps` must complete first: the previous operation of its stream, the
// implicit legacy-stream ordering, an awaited event. Cleared once it ran, so chains free.
struct Op {
  uint64_t id = 0;   // issue order
  DeviceWork work;
  Settings settings;   // snapshot at issue: a later settings change never affects queued work
  std::vector<OpPtr> deps;
  StreamState* stream = nullptr;
  bool done = false;
};

struct Capture {
  std::vector<DeviceWork> nodes;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id owner;
  const char* invalidated_by = nullptr;   // the forbidden call that invalidated it
};

struct StreamState {
  unsigned flags = 0;
  bool legacy = false;
  bool destroyed = false;
  std::deque<OpPtr> pending;
  OpPtr last;   // the latest operation issued (maybe done)
  std::unique_ptr<Capture> capture;
  bool blocking() const { return !legacy && !(flags & cudaStreamNonBlocking); }
};

struct EventState {
  OpPtr op;                              // the latest record; nullptr: never recorded
  StreamState* captured_in = nullptr;    // recorded inside a capture of this stream
  std::chrono::steady_clock::time_point time;
  bool destroyed = false;
};

struct GraphState {
  std::vector<DeviceWork> nodes;
  bool destroyed = false;
};

struct ExecState {
  std::shared_ptr<const std::vector<DeviceWork>> nodes;
  bool destroyed = false;
};

// Handles are pointers to these objects, which are never freed: a destroyed handle stays
// recognisable (its address is never reused), so using it is reported, not undefined.
struct Engine {
  std::mutex mutex;
  StreamState legacy;
  std::vector<StreamState*> streams;   // every created stream, in creation order
  std::unordered_set<const void*> stream_handles, event_handles, graph_handles, exec_handles;
  uint64_t next_id = 1;
  uint64_t picks = 0;   // random interleaving: how many choices were made so far

  Engine() { legacy.legacy = true; }
  template <class F>
  void for_each_stream(F&& f) {
    f(legacy);
    for (StreamState* s : streams) f(*s);
  }
};

Engine& engine() {
  static Engine* e = new Engine;   // never destroyed: queued work may outlive static destructors
  return *e;
}

void report(const std::string& what) { std::fprintf(stderr, "zs::simt: %s\n", what.c_str()); }

cudaError_t fail(cudaError_t e) {
  set_last_error(e);
  return e;
}

template <class T>
T* resolve(const std::unordered_set<const void*>& handles, const void* handle, const char* call, const char* what,
           const char* destroyer) {
  if (!handles.count(handle)) {
    report(std::string(call) + " was given an unknown " + what + " handle");
    return nullptr;
  }
  T* state = static_cast<T*>(const_cast<void*>(handle));
  if (state->destroyed) {
    report(std::string(call) + " used a " + what + " destroyed by " + destroyer);
    return nullptr;
  }
  return state;
}

StreamState* resolve_stream(Engine& e, cudaStream_t stream, const char* call) {
  // cudaStreamPerThread is mapped onto the legacy stream: nothing in zspace uses it.
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread) return &e.legacy;
  return resolve<StreamState>(e.stream_handles, stream, call, "stream", "cudaStreamDestroy");
}

EventState* resolve_event(Engine& e, cudaEvent_t event, const char* call) {
  return resolve<EventState>(e.event_handles, event, call, "event", "cudaEventDestroy");
}

void invalidate(Capture& c, const char* call) {
  if (!c.invalidated_by) c.invalidated_by = call;
}

// ---- running queued work ----

bool runnable(const Op& op) {
  for (const OpPtr& d : op.deps)
    if (!d->done) return false;
  return true;
}

// Drops every queued operation (after a kernel failed, as a faulted context would).
void drop_all(Engine& e) {
  e.for_each_stream([](StreamState& s) {
    for (const OpPtr& op : s.pending) {
      op->done = true;
      op->deps.clear();
    }
    s.pending.clear();
  });
}

void execute(Engine& e, StreamState& s) {
  OpPtr op = s.pending.front();
  s.pending.pop_front();
  try {
    if (op->work.run) {
      ScopedActivity activity({op->work.kind, op->work.name, op->work.site, op->work.via, op->work.via_site});
      op->work.run(op->settings);
    }
  } catch (...) {
    op->done = true;
    op->deps.clear();
    drop_all(e);
    throw;
  }
  op->done = true;
  op->deps.clear();
}

uint64_t mix(uint64_t x) {   // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The operations `targets` need (themselves and, transitively, what they wait for).
std::unordered_set<const Op*> needed_by(const std::vector<OpPtr>& targets) {
  std::unordered_set<const Op*> needed;
  std::vector<const Op*> stack;
  for (const OpPtr& t : targets)
    if (t && !t->done && needed.insert(t.get()).second) stack.push_back(t.get());
  while (!stack.empty()) {
    const Op* op = stack.back();
    stack.pop_back();
    for (const OpPtr& d : op->deps)
      if (!d->done && needed.insert(d.get()).second) stack.push_back(d.get());
  }
  return needed;
}

// Runs one needed operation whose dependencies are complete, chosen by the order policy among
// the heads of the streams. False when nothing needed is left.
bool step(Engine& e, const std::unordered_set<const Op*>& needed) {
  std::vector<StreamState*> candidates;
  bool any_needed = false;
  e.for_each_stream([&](StreamState& s) {
    if (s.pending.empty() || !needed.count(s.pending.front().get())) return;
    any_needed = true;
    if (runnable(*s.pending.front())) candidates.push_back(&s);
  });
  if (!any_needed) return false;
  if (candidates.empty()) throw std::logic_error("zs::simt: queued device work waits on itself (dependency cycle)");
  const Settings now = settings();
  std::size_t pick = 0;
  for (std::size_t i = 1; i < candidates.size(); ++i) {
    const uint64_t id = candidates[i]->pending.front()->id, best = candidates[pick]->pending.front()->id;
    if ((now.order == Order::Forward && id < best) || (now.order == Order::Reverse && id > best)) pick = i;
  }
  if (now.order == Order::Random) pick = std::size_t(mix(now.seed ^ mix(e.picks++)) % candidates.size());
  execute(e, *candidates[pick]);
  return true;
}

void run_until(Engine& e, const std::vector<OpPtr>& targets) {
  device_heap::arm_fault_handler();   // a bad access by the work run here must reach the heap's report
  const std::unordered_set<const Op*> needed = needed_by(targets);
  while (step(e, needed)) {
  }
}

// Queues (or records) work on a resolved stream; `extra` is one more dependency (an event).
cudaError_t submit_locked(Engine& e, StreamState& s, DeviceWork work, const OpPtr& extra = nullptr) {
  if (s.capture) {
    if (s.capture->invalidated_by) return fail(cudaErrorStreamCaptureInvalidated);
    if (work.run) s.capture->nodes.push_back(std::move(work));
    return cudaSuccess;
  }
  if (s.legacy) {   // the legacy stream would have to wait for a capturing blocking stream
    bool implicit = false;
    for (StreamState* t : e.streams)
      if (t->capture && t->blocking()) {
        invalidate(*t->capture, "legacy-stream work during the capture of a blocking stream");
        implicit = true;
      }
    if (implicit) {
      report(std::string(work.kind) + " on the legacy default stream while a blocking stream captures " +
             "(it would wait for the capture); the capture is invalidated");
      return fail(cudaErrorStreamCaptureImplicit);
    }
  }
  auto op = std::make_shared<Op>();
  op->id = e.next_id++;
  op->settings = settings();
  op->stream = &s;
  auto depend_on = [&](const OpPtr& d) {
    if (d && !d->done) op->deps.push_back(d);
  };
  depend_on(s.last);
  depend_on(extra);
  if (s.legacy) {
    for (StreamState* t : e.streams)
      if (t->blocking()) depend_on(t->last);
  } else if (s.blocking()) {
    depend_on(e.legacy.last);
  }
  std::function<void()> on_deferred = std::move(work.on_deferred);
  op->work = std::move(work);
  s.pending.push_back(op);
  s.last = op;
  if (!op->settings.async) {
    run_until(e, {op});
  } else if (on_deferred) {
    on_deferred();
  }
  return cudaSuccess;
}

}  // namespace

// ---- work and synchronisation ----

cudaError_t submit(cudaStream_t stream, DeviceWork work) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  StreamState* s = resolve_stream(e, stream, work.kind);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  return submit_locked(e, *s, std::move(work));
}

cudaError_t synchronize_stream(cudaStream_t stream) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  StreamState* s = resolve_stream(e, stream, "cudaStreamSynchronize");
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (s->capture) {
    invalidate(*s->capture, "cudaStreamSynchronize");
    report("cudaStreamSynchronize on a capturing stream; the capture is invalidated");
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  run_until(e, {s->last});
  return cudaSuccess;
}

cudaError_t synchronize_device() {
  if (unsafe_call_forbidden("cudaDeviceSynchronize")) return fail(cudaErrorStreamCaptureUnsupported);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  std::vector<OpPtr> all;
  e.for_each_stream([&](StreamState& s) { all.push_back(s.last); });
  run_until(e, all);
  return cudaSuccess;
}

cudaError_t submit_and_wait(DeviceWork work) {
  if (unsafe_call_forbidden(work.kind)) return fail(cudaErrorStreamCaptureUnsupported);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  if (cudaError_t err = submit_locked(e, e.legacy, std::move(work)); err != cudaSuccess) return err;
  run_until(e, {e.legacy.last});
  return cudaSuccess;
}

cudaError_t query_stream(cudaStream_t stream) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  StreamState* s = resolve_stream(e, stream, "cudaStreamQuery");
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (s->capture) return fail(cudaErrorStreamCaptureUnsupported);
  // A query lets the device make progress (one operation), so a polling loop terminates.
  if (s->last && !s->last->done) {
    device_heap::arm_fault_handler();
    step(e, needed_by({s->last}));
  }
  return !s->last || s->last->done ? cudaSuccess : cudaErrorNotReady;
}

bool unsafe_call_forbidden(const char* call) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  bool forbidden = false;
  for (StreamState* s : e.streams) {
    if (!s->capture) continue;
    const Capture& c = *s->capture;
    if (c.mode == cudaStreamCaptureModeGlobal ||
        (c.mode == cudaStreamCaptureModeThreadLocal && c.owner == std::this_thread::get_id())) {
      invalidate(*s->capture, call);
      forbidden = true;
    }
  }
  if (forbidden) report(std::string(call) + " during a stream capture is not permitted; the capture is invalidated");
  return forbidden;
}

// ---- streams ----

cudaError_t create_stream(cudaStream_t* stream, unsigned flags) {
  if (!stream) return fail(cudaErrorInvalidValue);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* s = new StreamState;
  s->flags = flags;
  e.streams.push_back(s);
  e.stream_handles.insert(s);
  *stream = reinterpret_cast<cudaStream_t>(s);
  return cudaSuccess;
}

cudaError_t destroy_stream(cudaStream_t stream) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread)
    return fail(cudaErrorInvalidResourceHandle);
  StreamState* s = resolve_stream(e, stream, "cudaStreamDestroy");
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (s->capture) return fail(cudaErrorStreamCaptureUnsupported);
  s->destroyed = true;   // its queued work still runs (CUDA releases the stream once it is done)
  return cudaSuccess;
}

cudaError_t wait_event(cudaStream_t stream, cudaEvent_t event) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  StreamState* s = resolve_stream(e, stream, "cudaStreamWaitEvent");
  auto* ev = resolve_event(e, event, "cudaStreamWaitEvent");
  if (!s || !ev) return fail(cudaErrorInvalidResourceHandle);
  if (ev->captured_in) {   // ordering inside one capture is its record order; across streams: unsupported
    if (ev->captured_in == s && s->capture) return cudaSuccess;
    report("cudaStreamWaitEvent joining another stream into a capture is not emulated");
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  if (s->capture) {
    if (!ev->op || ev->op->done) return cudaSuccess;
    invalidate(*s->capture, "cudaStreamWaitEvent on an event recorded outside the capture");
    return fail(cudaErrorStreamCaptureIsolation);
  }
  return submit_locked(e, *s, DeviceWork("cudaStreamWaitEvent", nullptr, {}, {}), ev->op);
}

// ---- events ----

cudaError_t create_event(cudaEvent_t* event) {
  if (!event) return fail(cudaErrorInvalidValue);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* ev = new EventState;
  e.event_handles.insert(ev);
  *event = reinterpret_cast<cudaEvent_t>(ev);
  return cudaSuccess;
}

cudaError_t destroy_event(cudaEvent_t event) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* ev = resolve_event(e, event, "cudaEventDestroy");
  if (!ev) return fail(cudaErrorInvalidResourceHandle);
  ev->destroyed = true;
  return cudaSuccess;
}

cudaError_t record_event(cudaEvent_t event, cudaStream_t stream) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  StreamState* s = resolve_stream(e, stream, "cudaEventRecord");
  auto* ev = resolve_event(e, event, "cudaEventRecord");
  if (!s || !ev) return fail(cudaErrorInvalidResourceHandle);
  if (s->capture) {
    ev->captured_in = s;
    ev->op = nullptr;
    return cudaSuccess;
  }
  DeviceWork work("cudaEventRecord", nullptr, {},
                  [ev](const Settings&) { ev->time = std::chrono::steady_clock::now(); });
  if (cudaError_t err = submit_locked(e, *s, std::move(work)); err != cudaSuccess) return err;
  ev->captured_in = nullptr;
  ev->op = s->last;
  return cudaSuccess;
}

cudaError_t synchronize_event(cudaEvent_t event) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* ev = resolve_event(e, event, "cudaEventSynchronize");
  if (!ev) return fail(cudaErrorInvalidResourceHandle);
  if (ev->captured_in) return fail(cudaErrorStreamCaptureUnsupported);
  run_until(e, {ev->op});
  return cudaSuccess;
}

cudaError_t query_event(cudaEvent_t event) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* ev = resolve_event(e, event, "cudaEventQuery");
  if (!ev) return fail(cudaErrorInvalidResourceHandle);
  if (ev->captured_in) return fail(cudaErrorStreamCaptureUnsupported);
  if (ev->op && !ev->op->done) {
    device_heap::arm_fault_handler();
    step(e, needed_by({ev->op}));
  }
  return !ev->op || ev->op->done ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t elapsed_ms(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return fail(cudaErrorInvalidValue);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* a = resolve_event(e, start, "cudaEventElapsedTime");
  auto* b = resolve_event(e, end, "cudaEventElapsedTime");
  if (!a || !b || !a->op || !b->op) return fail(cudaErrorInvalidResourceHandle);
  if (!a->op->done || !b->op->done) return fail(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(b->time - a->time).count();
  return cudaSuccess;
}

// ---- capture and graphs ----

cudaError_t begin_capture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  StreamState* s = resolve_stream(e, stream, "cudaStreamBeginCapture");
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (s->legacy) return fail(cudaErrorStreamCaptureUnsupported);   // the legacy stream cannot capture
  if (s->capture) return fail(cudaErrorIllegalState);
  s->capture = std::make_unique<Capture>();
  s->capture->mode = mode;
  s->capture->owner = std::this_thread::get_id();
  return cudaSuccess;
}

cudaError_t end_capture(cudaStream_t stream, cudaGraph_t* graph) {
  if (!graph) return fail(cudaErrorInvalidValue);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  StreamState* s = resolve_stream(e, stream, "cudaStreamEndCapture");
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (!s->capture) return fail(cudaErrorIllegalState);
  if (s->capture->mode != cudaStreamCaptureModeRelaxed && s->capture->owner != std::this_thread::get_id())
    return fail(cudaErrorStreamCaptureWrongThread);
  std::unique_ptr<Capture> c = std::move(s->capture);
  *graph = nullptr;
  if (c->invalidated_by) {
    report(std::string("cudaStreamEndCapture: the capture was invalidated by ") + c->invalidated_by);
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  auto* g = new GraphState;
  g->nodes = std::move(c->nodes);
  e.graph_handles.insert(g);
  *graph = reinterpret_cast<cudaGraph_t>(g);
  return cudaSuccess;
}

cudaError_t capture_status(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  if (!status) return fail(cudaErrorInvalidValue);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  StreamState* s = resolve_stream(e, stream, "cudaStreamIsCapturing");
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  *status = !s->capture                  ? cudaStreamCaptureStatusNone
            : s->capture->invalidated_by ? cudaStreamCaptureStatusInvalidated
                                         : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t instantiate(cudaGraphExec_t* exec, cudaGraph_t graph) {
  if (!exec) return fail(cudaErrorInvalidValue);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* g = resolve<GraphState>(e.graph_handles, graph, "cudaGraphInstantiate", "graph", "cudaGraphDestroy");
  if (!g) return fail(cudaErrorInvalidResourceHandle);
  auto* x = new ExecState;
  x->nodes = std::make_shared<const std::vector<DeviceWork>>(g->nodes);
  e.exec_handles.insert(x);
  *exec = reinterpret_cast<cudaGraphExec_t>(x);
  return cudaSuccess;
}

cudaError_t launch_graph(cudaGraphExec_t exec, cudaStream_t stream, Site site) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* x = resolve<ExecState>(e.exec_handles, exec, "cudaGraphLaunch", "graph exec", "cudaGraphExecDestroy");
  StreamState* s = resolve_stream(e, stream, "cudaGraphLaunch");
  if (!x || !s) return fail(cudaErrorInvalidResourceHandle);
  if (s->capture) {
    invalidate(*s->capture, "cudaGraphLaunch");
    report("cudaGraphLaunch inside a capture (child graphs) is not emulated");
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  for (const DeviceWork& node : *x->nodes) {
    DeviceWork replay = node;
    replay.via = "graph replay";
    replay.via_site = site;
    if (cudaError_t err = submit_locked(e, *s, std::move(replay)); err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

cudaError_t destroy_graph(cudaGraph_t graph) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* g = resolve<GraphState>(e.graph_handles, graph, "cudaGraphDestroy", "graph", "cudaGraphDestroy");
  if (!g) return fail(cudaErrorInvalidResourceHandle);
  g->destroyed = true;
  g->nodes.clear();
  return cudaSuccess;
}

cudaError_t destroy_graph_exec(cudaGraphExec_t exec) {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  auto* x = resolve<ExecState>(e.exec_handles, exec, "cudaGraphExecDestroy", "graph exec", "cudaGraphExecDestroy");
  if (!x) return fail(cudaErrorInvalidResourceHandle);
  x->destroyed = true;
  x->nodes.reset();   // launches already queued keep their own reference
  return cudaSuccess;
}

HandleCounts live_handles() {
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  HandleCounts c;
  for (const void* h : e.stream_handles) c.streams += !static_cast<const StreamState*>(h)->destroyed;
  for (const void* h : e.event_handles) c.events += !static_cast<const EventState*>(h)->destroyed;
  for (const void* h : e.graph_handles) c.graphs += !static_cast<const GraphState*>(h)->destroyed;
  for (const void* h : e.exec_handles) c.graph_execs += !static_cast<const ExecState*>(h)->destroyed;
  return c;
}

}  // namespace zs::simt::queue
