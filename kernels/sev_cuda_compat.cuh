// Lets one kernel body compile as CUDA device code and as plain C++ for the host tests.
#pragma once
#if defined(__CUDACC__)
#define SEV_HD __host__ __device__ __forceinline__
#else
#define SEV_HD inline
#endif
