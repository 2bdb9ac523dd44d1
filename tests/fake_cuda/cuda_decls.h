/* cuda_decls.h - the driver and runtime prototypes the tests call, in the
 * shim's own gcu_ types (checked against the real headers elsewhere). */
#ifndef GPUMEM_TEST_CUDA_DECLS_H
#define GPUMEM_TEST_CUDA_DECLS_H
#include "cuda_abi.h"

gcu_result cuInit(unsigned int);
gcu_result cuDeviceGet(gcu_device *, int);
gcu_result cuCtxCreate_v2(gcu_context *, unsigned int, gcu_device);
gcu_result cuCtxSetCurrent(gcu_context);
gcu_result cuMemAlloc_v2(gcu_deviceptr *, size_t);
gcu_result cuMemAllocPitch_v2(gcu_deviceptr *, size_t *, size_t, size_t, unsigned int);
gcu_result cuMemFree_v2(gcu_deviceptr);
gcu_result cuMemAllocManaged(gcu_deviceptr *, size_t, unsigned int);
gcu_result cuMemGetInfo_v2(size_t *, size_t *);
gcu_result cuMemCreate(gcu_mem_handle *, size_t, const gcu_mem_allocation_prop *, unsigned long long);
gcu_result cuMemRelease(gcu_mem_handle);
gcu_result cuMemAddressReserve(gcu_deviceptr *, size_t, size_t, gcu_deviceptr, unsigned long long);
gcu_result cuMemAddressFree(gcu_deviceptr, size_t);
gcu_result cuMemMap(gcu_deviceptr, size_t, size_t, gcu_mem_handle, unsigned long long);
gcu_result cuMemUnmap(gcu_deviceptr, size_t);
gcu_result cuMemAllocAsync(gcu_deviceptr *, size_t, gcu_stream);
gcu_result cuMemAllocAsync_ptsz(gcu_deviceptr *, size_t, gcu_stream);
gcu_result cuMemAllocFromPoolAsync(gcu_deviceptr *, size_t, gcu_mempool, gcu_stream);
gcu_result cuMemFreeAsync(gcu_deviceptr, gcu_stream);
gcu_result cuMemFreeAsync_ptsz(gcu_deviceptr, gcu_stream);
gcu_result cuMemPoolTrimTo(gcu_mempool, size_t);
gcu_result cuMemPoolDestroy(gcu_mempool);
gcu_result cuDeviceGetDefaultMemPool(gcu_mempool *, gcu_device);
gcu_result cuStreamSynchronize(gcu_stream);
gcu_result fake_cuda_alloc_unseen(gcu_deviceptr *, size_t);
unsigned long long fake_cuda_used_bytes(int device);

gcu_result cuMemPoolCreate(gcu_mempool *, const gcu_mem_pool_props *);

gcu_rt_error cudaMalloc(void **, size_t);
gcu_rt_error cudaFree(void *);
gcu_rt_error cudaMallocPitch(void **, size_t *, size_t, size_t);
gcu_rt_error cudaMallocManaged(void **, size_t, unsigned int);
gcu_rt_error cudaMallocAsync(void **, size_t, gcu_stream);
gcu_rt_error cudaFreeAsync(void *, gcu_stream);
gcu_rt_error cudaSetDevice(int);
gcu_rt_error cudaDeviceGetDefaultMemPool(gcu_mempool *, int);
gcu_rt_error cudaMemPoolTrimTo(gcu_mempool, size_t);
gcu_rt_error cudaGetDriverEntryPoint(const char *, void **, unsigned long long, unsigned int *);
gcu_rt_error cudaGetDriverEntryPointByVersion(const char *, void **, unsigned int, unsigned long long, unsigned int *);

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)
#endif
