// The VAE kernels (kernels/vae.cu) on the CPU emulator: every kernel version against the CPU twin
// in four thread orders (forward, reverse, two random) with strict mode on, bit-identical across
// the orders; eps, z, dpred and every gradient are the twin's exact bits (the emulator calls the
// same libm); the raw Philox words equal the host's; the step read from device memory. The
// checks: vae_kernel_checks.h.
#include <catch2/catch.hpp>

#include <vector>

#include "vae_kernel_checks.h"

using namespace zs::vae_checks;

using zs::kernel_runs::in_every_order;

TEST_CASE("emu vae: the raw Philox words equal the host's", "[emu][vae][philox]") {
  check_philox_words(in_every_order);
}

TEST_CASE("emu vae: reparameterization forward gives the twin's eps and z bits in every order", "[emu][vae]") {
  check_reparam_forward(in_every_order, TwinBits::Yes);
}

TEST_CASE("emu vae: the step read from device memory (and advanced there) gives the host step's bits",
          "[emu][vae]") {
  check_reparam_device_step(in_every_order, TwinBits::Yes);
}

TEST_CASE("emu vae: a slice of a batch (first row > 0) draws the whole batch's eps and z bits in every order",
          "[emu][vae]") {
  check_reparam_slice(in_every_order, TwinBits::Yes);
}

TEST_CASE("emu vae: reparameterization backward accumulates the twin's exact bits in every order", "[emu][vae]") {
  check_reparam_backward(in_every_order, TwinBits::Yes);
}

TEST_CASE("emu vae: the loss matches the CPU twin in every version and order", "[emu][vae][loss]") {
  for (int version = 1; version <= kns::kVaeLossKernelVersions; ++version) {
    DYNAMIC_SECTION("vae_loss kernel " << version) { check_vae_loss(in_every_order, version, TwinBits::Yes); }
  }
}

TEST_CASE("emu vae: bad arguments are rejected before any launch", "[emu][vae]") { check_vae_bad_arguments(); }
