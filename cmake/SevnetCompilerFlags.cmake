# CPU flags for the native core.
# Baseline x86-64-v2 so the library loads on any recent x86 machine; hot loops use
# target_clones/target attributes to get AVX2/AVX-512 code paths chosen at run time.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
find_package(OpenMP REQUIRED COMPONENTS CXX)

function(sevnet_apply_cpu_flags target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-O3 -fno-math-errno -fno-trapping-math -Wall -Wextra -Wno-unused-parameter>)
  target_link_libraries(${target} PRIVATE OpenMP::OpenMP_CXX)
  # libstdc++/libgcc statically: the jar must load on machines without a matching C++ runtime
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc -Wl,--no-undefined)
endfunction()
