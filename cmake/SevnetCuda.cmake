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
