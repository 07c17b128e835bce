// C entry points to PyTorch's CUDA caching allocator statistics (what torch.cuda.max_memory_allocated reads),
// which TorchSharp does not expose. Compiled at run time against the headers of the PyTorch install whose
// libtorch is in use (see MotionTune.Runtime.CudaMemory); never linked into the CPU build.
#include <c10/cuda/CUDACachingAllocator.h>
#include <cstdint>

namespace alloc = c10::cuda::CUDACachingAllocator;
constexpr int kAggregate = 0; // StatType::AGGREGATE

extern "C" {
int64_t motiontune_allocated_bytes(int device, int peak) {
    auto stats = alloc::getDeviceStats(static_cast<c10::DeviceIndex>(device));
    return peak ? stats.allocated_bytes[kAggregate].peak : stats.allocated_bytes[kAggregate].current;
}
int64_t motiontune_reserved_bytes(int device, int peak) {
    auto stats = alloc::getDeviceStats(static_cast<c10::DeviceIndex>(device));
    return peak ? stats.reserved_bytes[kAggregate].peak : stats.reserved_bytes[kAggregate].current;
}
void motiontune_reset_peak(int device) { alloc::resetPeakStats(static_cast<c10::DeviceIndex>(device)); }
void motiontune_empty_cache() { alloc::emptyCache(); }
}
