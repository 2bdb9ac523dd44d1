/*
 * check_cuda_abi.c - the shim's own CUDA declarations (shim/cuda_abi.h)
 * against the real cuda.h and cuda_runtime_api.h: this file compiles only if
 * every wrapped function has the same type and every struct the same layout.
 * Built with -Werror=incompatible-pointer-types where the toolkit exists.
 */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stddef.h>

#define GPUMEM_CHECK_AGAINST_REAL_CUDA 1
#include "cuda_abi.h"

/* Each line assigns the real function to the shim's pointer type: any
 * difference in return or parameter types is a compile error. */
static void *const checked[] = {
    (gcu_cuMemAlloc_v2_fn){ cuMemAlloc_v2 },
    (gcu_cuMemAllocPitch_v2_fn){ cuMemAllocPitch_v2 },
    (gcu_cuMemFree_v2_fn){ cuMemFree_v2 },
    (gcu_cuMemAllocManaged_fn){ cuMemAllocManaged },
    (gcu_cuMemCreate_fn){ cuMemCreate },
    (gcu_cuMemRelease_fn){ cuMemRelease },
    (gcu_cuMemAllocAsync_fn){ cuMemAllocAsync },
    (gcu_cuMemAllocFromPoolAsync_fn){ cuMemAllocFromPoolAsync },
    (gcu_cuMemFreeAsync_fn){ cuMemFreeAsync },
    (gcu_cuMemPoolTrimTo_fn){ cuMemPoolTrimTo },
    (gcu_cuMemPoolCreate_fn){ cuMemPoolCreate },
    (gcu_cuMemPoolDestroy_fn){ cuMemPoolDestroy },
    (gcu_cuGetProcAddress_v2_fn){ cuGetProcAddress_v2 },
    (gcu_cuCtxGetDevice_fn){ cuCtxGetDevice },
    (gcu_cuDeviceTotalMem_v2_fn){ cuDeviceTotalMem_v2 },
    (gcu_cuDeviceGetUuid_fn){ cuDeviceGetUuid },
    (gcu_cuDeviceGetPCIBusId_fn){ cuDeviceGetPCIBusId },
    (gcu_cuDeviceGetName_fn){ cuDeviceGetName },
    (gcu_cuDeviceGetMemPool_fn){ cuDeviceGetMemPool },
    (gcu_cuMemPoolGetAttribute_fn){ cuMemPoolGetAttribute },
    (gcu_cuMemGetInfo_v2_fn){ cuMemGetInfo_v2 },
    (gcu_cuCtxDestroy_v2_fn){ cuCtxDestroy_v2 },
    (gcu_cuDevicePrimaryCtxRetain_fn){ cuDevicePrimaryCtxRetain },
    (gcu_cuDevicePrimaryCtxRelease_fn){ cuDevicePrimaryCtxRelease_v2 },
    (gcu_cuDevicePrimaryCtxReset_fn){ cuDevicePrimaryCtxReset_v2 },
    (gcu_cuCtxSynchronize_fn){ cuCtxSynchronize },
    (gcu_cuCtxSynchronize_v2_fn){ cuCtxSynchronize_v2 },
    (gcu_cuStreamSynchronize_fn){ cuStreamSynchronize },
    (gcu_cuEventSynchronize_fn){ cuEventSynchronize },
    (gcu_cuPointerGetAttribute_fn){ cuPointerGetAttribute },
    (gcu_cuMemGetAllocationPropertiesFromHandle_fn){ cuMemGetAllocationPropertiesFromHandle },
    (gcu_cuDevicePrimaryCtxGetState_fn){ cuDevicePrimaryCtxGetState },
    (gcu_cudaMalloc_fn){ cudaMalloc },
    (gcu_cudaFree_fn){ cudaFree },
    (gcu_cudaMallocPitch_fn){ cudaMallocPitch },
    (gcu_cudaMallocManaged_fn){ cudaMallocManaged },
    (gcu_cudaMallocAsync_fn){ cudaMallocAsync },
    (gcu_cudaFreeAsync_fn){ cudaFreeAsync },
    (gcu_cudaMallocFromPoolAsync_fn){ cudaMallocFromPoolAsync },
    (gcu_cudaDeviceReset_fn){ cudaDeviceReset },
    (gcu_cudaDeviceSynchronize_fn){ cudaDeviceSynchronize },
    (gcu_cudaStreamSynchronize_fn){ cudaStreamSynchronize },
    (gcu_cudaEventSynchronize_fn){ cudaEventSynchronize },
};

/* The shim's own struct layouts, field by field. */
#define SAME(own, real, field) _Static_assert(offsetof(struct own, field) == offsetof(real, field), #real "." #field)
_Static_assert(sizeof(gcu_result) == sizeof(CUresult), "CUresult");
_Static_assert(sizeof(gcu_deviceptr) == sizeof(CUdeviceptr), "CUdeviceptr");
_Static_assert(sizeof(gcu_mem_handle) == sizeof(CUmemGenericAllocationHandle), "handle");
_Static_assert(sizeof(struct gcu_uuid_own) == sizeof(CUuuid), "CUuuid");
_Static_assert(sizeof(struct gcu_mem_allocation_prop_own) == sizeof(CUmemAllocationProp), "CUmemAllocationProp");
SAME(gcu_mem_allocation_prop_own, CUmemAllocationProp, type);
SAME(gcu_mem_allocation_prop_own, CUmemAllocationProp, requestedHandleTypes);
SAME(gcu_mem_allocation_prop_own, CUmemAllocationProp, location.type);
SAME(gcu_mem_allocation_prop_own, CUmemAllocationProp, location.id);
SAME(gcu_mem_allocation_prop_own, CUmemAllocationProp, win32HandleMetaData);
SAME(gcu_mem_allocation_prop_own, CUmemAllocationProp, allocFlags);
_Static_assert(sizeof(struct gcu_mem_pool_props_own) == sizeof(CUmemPoolProps), "CUmemPoolProps");
SAME(gcu_mem_pool_props_own, CUmemPoolProps, allocType);
SAME(gcu_mem_pool_props_own, CUmemPoolProps, location.type);
SAME(gcu_mem_pool_props_own, CUmemPoolProps, location.id);
SAME(gcu_mem_pool_props_own, CUmemPoolProps, maxSize);
SAME(gcu_mem_pool_props_own, CUmemPoolProps, usage);
_Static_assert((int)GCU_ERROR_OUT_OF_MEMORY == (int)CUDA_ERROR_OUT_OF_MEMORY, "OOM");
_Static_assert((int)GCU_ERROR_NOT_FOUND == (int)CUDA_ERROR_NOT_FOUND, "NOT_FOUND");
_Static_assert((int)GCU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM ==
                   (int)CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
               "ptds");
_Static_assert((int)GCU_MEM_LOCATION_TYPE_DEVICE == (int)CU_MEM_LOCATION_TYPE_DEVICE, "location");
_Static_assert((int)GCU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT == (int)CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, "pool attr");
_Static_assert((int)GCU_MEMPOOL_ATTR_RELEASE_THRESHOLD == (int)CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, "pool attr");
_Static_assert((int)GCU_MEMPOOL_ATTR_USED_MEM_CURRENT == (int)CU_MEMPOOL_ATTR_USED_MEM_CURRENT, "pool attr");
_Static_assert((int)GCU_POINTER_ATTRIBUTE_MEMORY_TYPE == (int)CU_POINTER_ATTRIBUTE_MEMORY_TYPE, "pointer attr");
_Static_assert((int)GCU_ERROR_INVALID_VALUE == (int)CUDA_ERROR_INVALID_VALUE, "INVALID_VALUE");
_Static_assert((int)GCU_RT_ERROR_MEMORY_ALLOCATION == (int)cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation");

int main(void)
{
    for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++)
        if (!checked[i]) return 1;
    return 0;
}
