// C entry points to the parts of PyTorch's CUDA runtime that TorchSharp does not expose: the caching allocator's
// statistics (what torch.cuda.max_memory_allocated reads), CUDA graphs (what torch.cuda.CUDAGraph wraps) and one
// ATen operation TorchSharp does not bind (a GEMM with a GELU epilogue). Tensors cross as TorchSharp's handles
// (at::Tensor*); a returned one is new, and TorchSharp deletes it on disposal.
// Compiled at run time against the headers of the PyTorch install whose libtorch is in use (see
// MotionTune.Runtime.TorchCudaShim); never linked into the CPU build. No C++ exception crosses into .NET: calls
// that can fail return nonzero and leave the message for motiontune_last_error.
#include <ATen/Functions.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

namespace alloc = c10::cuda::CUDACachingAllocator;
constexpr int kAggregate = 0; // StatType::AGGREGATE

namespace {
thread_local std::string last_error;

template <typename F> int guarded(F&& body) {
    try {
        body();
        return 0;
    } catch (const std::exception& e) {
        last_error = e.what();
    } catch (...) {
        last_error = "unknown C++ exception";
    }
    return 1;
}

// A graph and the side stream it is captured on; libtorch refuses to capture on the default stream.
struct Graph {
    at::cuda::CUDAGraph graph;
    c10::DeviceIndex device = 0;
    std::optional<c10::cuda::CUDAStream> previous; // the current stream before motiontune_graph_enter
};
} // namespace

extern "C" {
const char* motiontune_last_error() { return last_error.c_str(); }

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

void* motiontune_graph_create(int device) {
    Graph* graph = nullptr;
    guarded([&] {
        graph = new Graph();
        graph->device = static_cast<c10::DeviceIndex>(device);
    });
    return graph;
}

// Waits for the device and returns cached blocks to the driver (the graph's private pool needs room of its own, as
// torch.cuda.graph makes it), then makes a side stream current (warm-up and capture run there); *stream gets its
// handle, which kernels launched outside libtorch must use.
int motiontune_graph_enter(void* handle, void** stream) {
    auto* g = static_cast<Graph*>(handle);
    return guarded([&] {
        c10::cuda::device_synchronize();
        alloc::emptyCache();
        g->previous = c10::cuda::getCurrentCUDAStream(g->device);
        auto side = c10::cuda::getStreamFromPool(false, g->device);
        c10::cuda::setCurrentCUDAStream(side);
        *stream = side.stream();
    });
}

// Waits for the side stream and restores the stream that was current before motiontune_graph_enter.
int motiontune_graph_exit(void* handle) {
    auto* g = static_cast<Graph*>(handle);
    return guarded([&] {
        if (!g->previous) return;
        auto previous = *g->previous;
        g->previous.reset();
        c10::cuda::getCurrentCUDAStream(g->device).synchronize();
        c10::cuda::setCurrentCUDAStream(previous);
    });
}

// Thread-local capture mode: the .NET finalizer thread may free tensors while this thread captures.
int motiontune_graph_capture_begin(void* handle) {
    auto* g = static_cast<Graph*>(handle);
    return guarded([&] { g->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal); });
}
int motiontune_graph_capture_end(void* handle) {
    auto* g = static_cast<Graph*>(handle);
    return guarded([&] { g->graph.capture_end(); });
}

// Launches the graph on the current stream.
int motiontune_graph_replay(void* handle) {
    auto* g = static_cast<Graph*>(handle);
    return guarded([&] { g->graph.replay(); });
}

// GELU(tanh)(input · weightᵀ + bias) for a 2-D input: on CUDA one cuBLASLt GEMM whose epilogue adds the bias and
// applies the activation to the float32 accumulator, as torch._addmm_activation(..., use_gelu=True) runs it.
int motiontune_linear_gelu_tanh(void* input, void* weight, void* bias, void** output) {
    return guarded([&] {
        auto& x = *static_cast<at::Tensor*>(input);
        auto& w = *static_cast<at::Tensor*>(weight);
        auto& b = *static_cast<at::Tensor*>(bias);
        *output = new at::Tensor(at::_addmm_activation(b, x, w.t(), 1, 1, /*use_gelu=*/true));
    });
}

void motiontune_graph_destroy(void* handle) {
    guarded([&] { delete static_cast<Graph*>(handle); });
}
}
