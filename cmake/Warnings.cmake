# zs_warnings(target): -Wall -Wextra for C++ sources and for host code compiled by nvcc.
# GCC 12 at -O3 reports -Wrestrict inside libstdc++'s std::string (GCC bug 105329, a false positive).
set(ZS_GCC12_WORKAROUNDS)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  set(ZS_GCC12_WORKAROUNDS -Wno-restrict)
endif()

function(zs_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unknown-pragmas ${ZS_GCC12_WORKAROUNDS}>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --Werror=all-warnings -Xptxas=-warn-spills,-warn-lmem-usage>)
endfunction()

if(ZSPACE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
