# kernels/*.cu are built once per kernel namespace: zs::emu (g++ against the emulator, runtime/simt)
# and zs::cuda (nvcc). kernels/common.cuh picks the namespace, and with it the CUDA API, by ZS_KNS,
# so the two builds link into one binary without clashing.

# zs_kns_definitions(<target> <emu|cuda>): the macros kernels/common.cuh reads. For every target
# compiled for one namespace: the kernel libraries below and the backends built on them (runtime/).
# PRIVATE: consumers see both namespaces, so ZS_KNS must not leak to them.
function(zs_kns_definitions target kns)
  if(kns STREQUAL "emu")
    target_compile_definitions(${target} PRIVATE ZS_KNS=emu ZS_EMU=1)
  elseif(kns STREQUAL "cuda")
    target_compile_definitions(${target} PRIVATE ZS_KNS=cuda)
  else()
    message(FATAL_ERROR "zs_kns_definitions(${target}): KNS must be emu or cuda, not '${kns}'")
  endif()
endfunction()

# zs_add_kernel_library(NAME <target> KNS <emu|cuda>): a static library of kernels/*.cu for one
# namespace, on top of the CPU twin (zs_kernels_cpu).
#   emu : compiled by g++ through one generated .cpp per .cu that just includes it (so the same file
#         can be C++ here and CUDA in the other build without clashing source properties), against
#         the emulator zs_simt;
#   cuda: compiled by nvcc, against the CUDA runtime.
function(zs_add_kernel_library)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;KNS" "")
  if(NOT arg_NAME OR arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "usage: zs_add_kernel_library(NAME <target> KNS <emu|cuda>)")
  endif()
  file(GLOB cu_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/*.cu)
  if(arg_KNS STREQUAL "emu")
    set(sources)
    foreach(cu ${cu_sources})
      get_filename_component(stem ${cu} NAME_WE)
      set(wrapper ${CMAKE_CURRENT_BINARY_DIR}/emu/${stem}_emu.cpp)
      file(GENERATE OUTPUT ${wrapper} CONTENT "// generated: ${stem}.cu built for the CPU emulator\n#include \"${cu}\"\n")
      list(APPEND sources ${wrapper})
    endforeach()
    set(api zs_simt)
  else()
    set(sources ${cu_sources})
    set(api CUDA::cudart)
  endif()
  add_library(${arg_NAME} STATIC ${sources})
  zs_kns_definitions(${arg_NAME} ${arg_KNS})
  target_link_libraries(${arg_NAME} PUBLIC ${api} zs_kernels_cpu)
  if(arg_KNS STREQUAL "cuda")
    set_target_properties(${arg_NAME} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF)
    target_compile_options(${arg_NAME} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo>)
  endif()
  zs_warnings(${arg_NAME})
endfunction()
