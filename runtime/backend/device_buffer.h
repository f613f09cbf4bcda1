// The one owner of device memory: DeviceBuffer<T>, a typed, move-only array allocated from a
// DeviceMemory (a Backend, or for code that calls kernel launchers directly - kernel tests and
// benches - zs::ZS_KNS::kernel_memory(), see runtime/backend/kernel_memory.h).
//
// "Device" means the backend's memory: GPU memory on cuda, emulated GPU memory on emu, 64-byte
// aligned host memory on cpu. Any trivially copyable element type (float, int32_t, int64_t,
// double, ...). Contents are undefined after allocation.
#pragma once
#include <cstddef>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace zs {

// Where device memory comes from and how bytes cross to and from the host. upload() and
// download() are synchronous for the host: the source may go away, the destination may be read,
// as soon as they return.
class DeviceMemory {
 public:
  virtual void* allocate_bytes(size_t bytes) = 0;   // throws UserError (with the fix) when out of memory
  virtual void release_bytes(void* p) noexcept = 0;
  virtual void upload_bytes(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void download_bytes(void* host_dst, const void* src, size_t bytes) = 0;

 protected:
  ~DeviceMemory() = default;   // not owned through this interface
};

template <class T>
class DeviceBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "device memory holds trivially copyable elements only");

 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceMemory& memory, size_t count)
      : memory_(&memory), p_(count ? static_cast<T*>(memory.allocate_bytes(count * sizeof(T))) : nullptr), n_(count) {}
  // Allocates host.size() elements and uploads them.
  DeviceBuffer(DeviceMemory& memory, std::span<const T> host) : DeviceBuffer(memory, host.size()) { upload(host); }
  DeviceBuffer(DeviceMemory& memory, const std::vector<T>& host) : DeviceBuffer(memory, std::span<const T>(host)) {}

  DeviceBuffer(DeviceBuffer&& o) noexcept
      : memory_(o.memory_), p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      memory_ = o.memory_;
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }

  void reset() noexcept {
    if (p_) memory_->release_bytes(p_);
    p_ = nullptr;
    n_ = 0;
  }
  // At least `count` elements, reallocating (contents not kept) when smaller. Needs a memory.
  T* reserve(size_t count) {
    if (count > n_) {
      reset();
      p_ = static_cast<T*>(memory_->allocate_bytes(count * sizeof(T)));
      n_ = count;
    }
    return p_;
  }

  T* data() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }
  bool empty() const { return n_ == 0; }

  // The first host.size() elements = host (at most size()).
  void upload(std::span<const T> host) {
    if (host.size() > n_) throw std::length_error("DeviceBuffer::upload: more elements than the buffer holds");
    if (!host.empty()) memory_->upload_bytes(p_, host.data(), host.size_bytes());
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_) memory_->download_bytes(host.data(), p_, bytes());
    return host;
  }

 private:
  DeviceMemory* memory_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace zs
