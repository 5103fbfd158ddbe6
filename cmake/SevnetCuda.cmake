# Optional CUDA, when nvcc is present: the GPU probe (kernels/cuda_probe.cu) goes into libsevnet with
# cudart linked statically, so libsevnet loads on machines with no driver and no CUDA libraries (the
# static runtime only dlopen()s libcuda when a CUDA call is made). The kernels (the other
# kernels/*.cu) make libsevnet_cuda, which overrides this default with the shared runtime.
include(CheckLanguage)
option(SEVNET_CUDA "Build the CUDA kernels when nvcc is found" ON)
set(SEVNET_WITH_CUDA OFF)
if(SEVNET_CUDA)
  # a cached NOTFOUND from an earlier configure without nvcc would pin the build to CPU-only
  if(DEFINED CMAKE_CUDA_COMPILER AND NOT CMAKE_CUDA_COMPILER)
    unset(CMAKE_CUDA_COMPILER CACHE)
  endif()
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
endif()
if(SEVNET_CUDA AND CMAKE_CUDA_COMPILER)
  # sm_80 and sm_90 machine code, plus compute_90 PTX for newer GPUs
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;90-virtual")
  set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
  set(CMAKE_CUDA_STANDARD 17)
  enable_language(CUDA)
  set(SEVNET_WITH_CUDA ON)
  message(STATUS "sevnet: CUDA kernels ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(WARNING "sevnet: nvcc not found — building the CPU-only native library (no CUDA kernels)")
endif()

function(sevnet_apply_cuda target)
  set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 --expt-relaxed-constexpr -lineinfo>)
endfunction()

# Standalone cubins of the kernel sources, one per source and architecture, for the driver-API harness
# (src/test/java/dev/sevnet/bench/CubinKernelBench.java loads them with cuModuleLoadData and times one
# kernel at a time with chosen launch shapes). Each is `nvcc -cubin -arch=sm_XX` with the device flags
# libsevnet_cuda's objects get (CMAKE_CUDA_FLAGS of the build type, -std=c++17, sevnet_apply_cuda's), so
# the machine code is the library's. Written to <out_dir>/sm_XX/<name>.cubin, with <out_dir>/cubins.txt
# listing them (Maven copies the folder onto the test class path as dev/sevnet/cubins/). CMake 3.25 has no
# CUDA_CUBIN_COMPILATION (3.27+): custom commands. The kernels keep their C++ (mangled) names; the
# harness finds them by demangling the cubin's symbol table.
function(sevnet_add_cubins target out_dir archs)
  set(sources ${ARGN})
  file(GLOB headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/kernels/*.cuh
                                      ${CMAKE_CURRENT_SOURCE_DIR}/native/include/sevnet_cuda.h)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" cfg)
  separate_arguments(flags UNIX_COMMAND "${CMAKE_CUDA_FLAGS} ${CMAKE_CUDA_FLAGS_${cfg}}")
  set(outputs)
  set(index)
  foreach(arch IN LISTS archs)
    foreach(src IN LISTS sources)
      get_filename_component(name ${src} NAME_WE)
      set(out ${out_dir}/sm_${arch}/${name}.cubin)
      add_custom_command(
        OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}/sm_${arch}
        COMMAND ${CMAKE_CUDA_COMPILER} -cubin -arch=sm_${arch} -std=c++17 ${flags}
                -O3 --expt-relaxed-constexpr -lineinfo
                -I${CMAKE_CURRENT_SOURCE_DIR}/native/include -I${CMAKE_CURRENT_SOURCE_DIR}/kernels
                ${src} -o ${out}
        DEPENDS ${src} ${headers}
        COMMENT "cubin sm_${arch}: ${name}"
        VERBATIM)
      list(APPEND outputs ${out})
      string(APPEND index "sm_${arch}/${name}.cubin\n")
    endforeach()
  endforeach()
  file(GENERATE OUTPUT ${out_dir}/cubins.txt CONTENT "${index}")
  add_custom_target(${target} ALL DEPENDS ${outputs})
endfunction()
