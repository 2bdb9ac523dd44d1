/*
 * cuda_abi.h - the shim's own minimal declarations of the CUDA driver and
 * runtime types and functions it wraps, so that it builds with libc alone.
 *
 * Names carry a gcu_ prefix so that tests/toolkit/check_cuda_abi.c can include
 * these next to the real cuda.h / cuda_runtime_api.h and have the compiler
 * prove every declaration identical. Opaque handles reuse CUDA's own struct
 * tags, which keeps pointer types compatible with the real headers.
 */
#ifndef GPUMEM_CUDA_ABI_H
#define GPUMEM_CUDA_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned int gcu_result;           /* CUresult (enum cudaError_enum)  */
typedef int gcu_device;                    /* CUdevice                         */
typedef unsigned long long gcu_deviceptr;  /* CUdeviceptr (_v2)               */
typedef unsigned long long gcu_mem_handle; /* CUmemGenericAllocationHandle   */
typedef uint64_t gcu_uint64;               /* cuuint64_t                       */
typedef struct CUctx_st *gcu_context;
typedef struct CUstream_st *gcu_stream;
typedef struct CUevent_st *gcu_event;
typedef struct CUmemPoolHandle_st *gcu_mempool;
typedef unsigned int gcu_proc_status;       /* CUdriverProcAddressQueryResult   */
typedef unsigned int gcu_pool_attribute;    /* CUmemPool_attribute              */
typedef unsigned int gcu_pointer_attribute; /* CUpointer_attribute           */
struct gcu_uuid_own {
    char bytes[16];
};

enum {
    GCU_SUCCESS = 0,
    GCU_ERROR_INVALID_VALUE = 1,
    GCU_ERROR_OUT_OF_MEMORY = 2,
    GCU_ERROR_NOT_FOUND = 500,
    GCU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM = 2,
    GCU_MEM_LOCATION_TYPE_DEVICE = 1,
    GCU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4,
    GCU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT = 5,
    GCU_MEMPOOL_ATTR_USED_MEM_CURRENT = 7,
    GCU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2,
};

typedef struct gcu_mem_location {
    unsigned int type;
    int id;
} gcu_mem_location;
struct gcu_mem_allocation_prop_own {
    unsigned int type;                 /* CUmemAllocationType       */
    unsigned int requestedHandleTypes; /* CUmemAllocationHandleType */
    gcu_mem_location location;
    void *win32HandleMetaData;
    struct {
        unsigned char compressionType;
        unsigned char gpuDirectRDMACapable;
        unsigned short usage;
        unsigned char reserved[4];
    } allocFlags;
};

struct gcu_mem_pool_props_own {
    unsigned int allocType;   /* CUmemAllocationType       */
    unsigned int handleTypes; /* CUmemAllocationHandleType */
    gcu_mem_location location;
    void *win32SecurityAttributes;
    size_t maxSize;
    unsigned short usage;
    unsigned char reserved[54];
};

/* tests/toolkit/check_cuda_abi.c compiles these declarations next to the
 * real headers: there the struct types are CUDA's own, so that the compiler
 * compares every function type, and the _own layouts are pinned apart. */
#ifdef GPUMEM_CHECK_AGAINST_REAL_CUDA
typedef CUuuid gcu_uuid;
typedef CUmemAllocationProp gcu_mem_allocation_prop;
typedef CUmemPoolProps gcu_mem_pool_props;
#else
typedef struct gcu_uuid_own gcu_uuid;
typedef struct gcu_mem_allocation_prop_own gcu_mem_allocation_prop;
typedef struct gcu_mem_pool_props_own gcu_mem_pool_props;
#endif

/* Driver functions: one typedef per wrapped ABI. */
typedef gcu_result (*gcu_cuMemAlloc_v2_fn)(gcu_deviceptr *, size_t);
typedef gcu_result (*gcu_cuMemAllocPitch_v2_fn)(gcu_deviceptr *, size_t *, size_t, size_t, unsigned int);
typedef gcu_result (*gcu_cuMemFree_v2_fn)(gcu_deviceptr);
typedef gcu_result (*gcu_cuMemAllocManaged_fn)(gcu_deviceptr *, size_t, unsigned int);
typedef gcu_result (*gcu_cuMemCreate_fn)(gcu_mem_handle *, size_t, const gcu_mem_allocation_prop *, unsigned long long);
typedef gcu_result (*gcu_cuMemRelease_fn)(gcu_mem_handle);
typedef gcu_result (*gcu_cuMemAllocAsync_fn)(gcu_deviceptr *, size_t, gcu_stream);
typedef gcu_result (*gcu_cuMemAllocFromPoolAsync_fn)(gcu_deviceptr *, size_t, gcu_mempool, gcu_stream);
typedef gcu_result (*gcu_cuMemFreeAsync_fn)(gcu_deviceptr, gcu_stream);
typedef gcu_result (*gcu_cuMemPoolTrimTo_fn)(gcu_mempool, size_t);
typedef gcu_result (*gcu_cuMemPoolCreate_fn)(gcu_mempool *, const gcu_mem_pool_props *);
typedef gcu_result (*gcu_cuMemPoolDestroy_fn)(gcu_mempool);
typedef gcu_result (*gcu_cuGetProcAddress_fn)(const char *, void **, int, gcu_uint64);
typedef gcu_result (*gcu_cuGetProcAddress_v2_fn)(const char *, void **, int, gcu_uint64, gcu_proc_status *);
typedef gcu_result (*gcu_cuCtxDestroy_v2_fn)(gcu_context);
typedef gcu_result (*gcu_cuDevicePrimaryCtxRetain_fn)(gcu_context *, gcu_device);
typedef gcu_result (*gcu_cuDevicePrimaryCtxRelease_fn)(gcu_device);
typedef gcu_result (*gcu_cuDevicePrimaryCtxReset_fn)(gcu_device);
typedef gcu_result (*gcu_cuCtxSynchronize_fn)(void);
typedef gcu_result (*gcu_cuCtxSynchronize_v2_fn)(gcu_context);
typedef gcu_result (*gcu_cuStreamSynchronize_fn)(gcu_stream);
typedef gcu_result (*gcu_cuEventSynchronize_fn)(gcu_event);
/* Driver functions the shim only calls. */
typedef gcu_result (*gcu_cuCtxGetDevice_fn)(gcu_device *);
typedef gcu_result (*gcu_cuDeviceTotalMem_v2_fn)(size_t *, gcu_device);
typedef gcu_result (*gcu_cuDeviceGetUuid_fn)(gcu_uuid *, gcu_device);
typedef gcu_result (*gcu_cuDeviceGetPCIBusId_fn)(char *, int, gcu_device);
typedef gcu_result (*gcu_cuDeviceGetName_fn)(char *, int, gcu_device);
typedef gcu_result (*gcu_cuDeviceGetMemPool_fn)(gcu_mempool *, gcu_device);
typedef gcu_result (*gcu_cuMemPoolGetAttribute_fn)(gcu_mempool, gcu_pool_attribute, void *);
typedef gcu_result (*gcu_cuMemGetInfo_v2_fn)(size_t *, size_t *);
typedef gcu_result (*gcu_cuPointerGetAttribute_fn)(void *, gcu_pointer_attribute, gcu_deviceptr);
typedef gcu_result (*gcu_cuMemGetAllocationPropertiesFromHandle_fn)(gcu_mem_allocation_prop *, gcu_mem_handle);
typedef gcu_result (*gcu_cuDevicePrimaryCtxGetState_fn)(gcu_device, unsigned int *, int *);

/* Runtime. */
typedef unsigned int gcu_rt_error; /* cudaError_t (enum cudaError) */
enum { GCU_RT_SUCCESS = 0, GCU_RT_ERROR_MEMORY_ALLOCATION = 2 };
typedef gcu_rt_error (*gcu_cudaMalloc_fn)(void **, size_t);
typedef gcu_rt_error (*gcu_cudaFree_fn)(void *);
typedef gcu_rt_error (*gcu_cudaMallocPitch_fn)(void **, size_t *, size_t, size_t);
typedef gcu_rt_error (*gcu_cudaMallocManaged_fn)(void **, size_t, unsigned int);
typedef gcu_rt_error (*gcu_cudaMallocAsync_fn)(void **, size_t, gcu_stream);
typedef gcu_rt_error (*gcu_cudaFreeAsync_fn)(void *, gcu_stream);
typedef gcu_rt_error (*gcu_cudaMallocFromPoolAsync_fn)(void **, size_t, gcu_mempool, gcu_stream);
typedef gcu_rt_error (*gcu_cudaDeviceReset_fn)(void);
typedef gcu_rt_error (*gcu_cudaDeviceSynchronize_fn)(void);
typedef gcu_rt_error (*gcu_cudaStreamSynchronize_fn)(gcu_stream);
typedef gcu_rt_error (*gcu_cudaEventSynchronize_fn)(gcu_event);

#endif /* GPUMEM_CUDA_ABI_H */
