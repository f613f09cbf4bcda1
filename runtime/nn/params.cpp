#include "runtime/nn/params.h"

#include <cmath>
#include <random>
#include <stdexcept>

#include "runtime/core/error.h"
#include "runtime/io/safetensors.h"

namespace zs {
namespace {

// Uniform in [-limit, limit) from the raw 32-bit output of mt19937 (whose sequence the standard fixes),
// not std::uniform_real_distribution (whose algorithm differs between standard libraries).
float uniform_sym(std::mt19937& gen, float limit) {
  float u = float(gen() >> 8) * (1.0f / 16777216.0f);
  return (2.0f * u - 1.0f) * limit;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

int ParamStore::declare(std::string name, std::vector<int64_t> shape, Init init, int64_t fan_in, int64_t fan_out) {
  if (be_) throw std::logic_error("ParamStore::declare after allocate");
  for (const auto& s : slots_)
    if (s.name == name) throw std::logic_error("duplicate parameter name " + name);
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  slots_.push_back({std::move(name), std::move(shape), total_, count, init, fan_in, fan_out});
  total_ += count;
  return int(slots_.size()) - 1;
}

void ParamStore::allocate(Backend& be, uint64_t seed) {
  be_ = &be;
  params_ = Buffer(be, size_t(total_));
  grads_ = Buffer(be, size_t(total_));
  m_ = Buffer(be, size_t(total_));
  v_ = Buffer(be, size_t(total_));
  std::vector<float> host(size_t(total_), 0.0f);
  std::mt19937 gen(uint32_t(seed ^ (seed >> 32)));
  for (const auto& s : slots_) {
    if (s.init != Init::GlorotUniform) continue;
    float limit = std::sqrt(6.0f / float(s.fan_in + s.fan_out));
    for (int64_t i = 0; i < s.count; ++i) host[size_t(s.offset + i)] = uniform_sym(gen, limit);
  }
  be.to_device(params_.data(), host.data(), host.size());
  be.fill(grads_.data(), 0.0f, size_t(total_));
  be.fill(m_.data(), 0.0f, size_t(total_));
  be.fill(v_.data(), 0.0f, size_t(total_));
  step_ = DeviceBuffer<int64_t>(be, 1);
  set_steps_taken(0);
}

void ParamStore::adam_update(Backend& be, const AdamHyper& h) {
  be.advance_step(step_.data());
  be.adam_step(params_.data(), m_.data(), v_.data(), grads_.data(), total_, h, step_.data());
}

int64_t ParamStore::steps_taken() const { return step_.download().at(0); }

void ParamStore::set_steps_taken(int64_t steps) { step_.upload(std::span<const int64_t>(&steps, 1)); }

std::map<std::string, NamedTensor> ParamStore::to_host(bool with_adam) const {
  std::map<std::string, NamedTensor> out;
  auto grab = [&](const std::string& name, const Slot& s, const float* base) {
    NamedTensor t;
    t.shape = s.shape;
    t.data.resize(size_t(s.count));
    be_->to_host(t.data.data(), base + s.offset, size_t(s.count));
    out.emplace(name, std::move(t));
  };
  for (const auto& s : slots_) {
    grab(s.name, s, params_.data());
    if (with_adam) {
      grab("adam.m." + s.name, s, m_.data());
      grab("adam.v." + s.name, s, v_.data());
    }
  }
  return out;
}

bool ParamStore::from_host(const std::map<std::string, NamedTensor>& tensors, const std::string& what, bool want_adam) {
  auto check = [&](const std::string& name, const Slot& s) -> const NamedTensor* {
    auto it = tensors.find(name);
    if (it == tensors.end()) return nullptr;
    if (it->second.shape != s.shape)
      throw UserError(what + ": tensor " + name + " has shape " + shape_str(it->second.shape) + " but this model needs " +
                      shape_str(s.shape) + "; resume with the same --z-dim and model options it was trained with");
    return &it->second;
  };
  for (const auto& s : slots_) {
    const NamedTensor* t = check(s.name, s);
    if (!t)
      throw UserError(what + ": tensor " + s.name + " is missing; this checkpoint was written for another model or command");
    be_->to_device(params_.data() + s.offset, t->data.data(), size_t(s.count));
  }
  if (!want_adam) return false;
  for (const auto& s : slots_)
    if (!check("adam.m." + s.name, s) || !check("adam.v." + s.name, s)) return false;
  for (const auto& s : slots_) {
    be_->to_device(m_.data() + s.offset, tensors.at("adam.m." + s.name).data.data(), size_t(s.count));
    be_->to_device(v_.data() + s.offset, tensors.at("adam.v." + s.name).data.data(), size_t(s.count));
  }
  return true;
}

}  // namespace zs
