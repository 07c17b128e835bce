// Runs CUDA kernels on the CPU, one block at a time, each thread a fiber (ucontext), so that the fused kernels of
// KernelSource.cs can be checked without a GPU. Emulated: threadIdx/blockIdx/blockDim, __syncthreads (block barrier),
// __shfl_xor_sync (exchange through a per-warp slot between two warp barriers), __shared__ (a static: blocks run one
// after another), and the few intrinsics the kernels call. Inline PTX is not emulated: the test replaces the fp16
// conversions with _Float16 ones before compiling.
#pragma once
#include <ucontext.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#define __device__
#define __global__
#define __forceinline__ inline
#define __shared__ static

struct Dim3 { unsigned x, y, z; };
static Dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace emu {
enum State { Runnable, AtBlockBarrier, AtWarpBarrier, Done };
struct Fiber { ucontext_t context; State state; };
static std::vector<Fiber>* fibers;
static std::vector<std::vector<char>> stacks; // one per thread of a block, reused by every block
static ucontext_t scheduler;
static unsigned current;
static float warp_slots[32][32];
static std::function<void()> body;

static void wait(State state) {
  (*fibers)[current].state = state;
  swapcontext(&(*fibers)[current].context, &scheduler);
}

static void run_thread() {
  body();
  (*fibers)[current].state = Done;
  swapcontext(&(*fibers)[current].context, &scheduler);
}

// Releases one barrier whose every live participant waits: a warp's, else the block's. False when none can go.
static bool release(unsigned threads) {
  auto& f = *fibers;
  for (unsigned w = 0; w * 32 < threads; w++) {
    unsigned end = std::min(threads, w * 32 + 32);
    bool all = true, any = false;
    for (unsigned t = w * 32; t < end; t++) {
      if (f[t].state == Runnable || f[t].state == AtBlockBarrier) all = false;
      if (f[t].state == AtWarpBarrier) any = true;
    }
    if (all && any) {
      for (unsigned t = w * 32; t < end; t++) if (f[t].state == AtWarpBarrier) f[t].state = Runnable;
      return true;
    }
  }
  bool all = true, any = false;
  for (auto& fiber : f) {
    if (fiber.state == Runnable || fiber.state == AtWarpBarrier) all = false;
    if (fiber.state == AtBlockBarrier) any = true;
  }
  if (!(all && any)) return false;
  for (auto& fiber : f) if (fiber.state == AtBlockBarrier) fiber.state = Runnable;
  return true;
}
}  // namespace emu

static void __syncthreads() { emu::wait(emu::AtBlockBarrier); }

static float __shfl_xor_sync(unsigned, float value, int lane_mask) {
  unsigned warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  emu::warp_slots[warp][lane] = value;
  emu::wait(emu::AtWarpBarrier);
  float other = emu::warp_slots[warp][lane ^ lane_mask];
  emu::wait(emu::AtWarpBarrier);
  return other;
}

static float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
static unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
static float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

// Runs kernel(…) as a launch of grid × block threads; exits on a deadlock (a barrier some thread never reaches).
static void launch(Dim3 grid, unsigned threads, std::function<void()> kernel) {
  gridDim = grid;
  blockDim = {threads, 1, 1};
  emu::body = kernel;
  if (emu::stacks.size() < threads) emu::stacks.resize(threads, std::vector<char>(1 << 16));
  for (unsigned by = 0; by < grid.y; by++)
    for (unsigned bx = 0; bx < grid.x; bx++) {
      blockIdx = {bx, by, 0};
      std::vector<emu::Fiber> fibers(threads);
      emu::fibers = &fibers;
      for (unsigned t = 0; t < threads; t++) {
        fibers[t].state = emu::Runnable;
        getcontext(&fibers[t].context);
        fibers[t].context.uc_stack.ss_sp = emu::stacks[t].data();
        fibers[t].context.uc_stack.ss_size = emu::stacks[t].size();
        fibers[t].context.uc_link = nullptr;
        makecontext(&fibers[t].context, emu::run_thread, 0);
      }
      for (;;) {
        bool ran = false;
        for (unsigned t = 0; t < threads; t++)
          if (fibers[t].state == emu::Runnable) {
            emu::current = t;
            threadIdx = {t, 0, 0};
            swapcontext(&emu::scheduler, &fibers[t].context);
            ran = true;
          }
        if (std::all_of(fibers.begin(), fibers.end(), [](auto& f) { return f.state == emu::Done; })) break;
        if (!emu::release(threads) && !ran) { std::fprintf(stderr, "deadlock in block (%u, %u)\n", bx, by); std::exit(3); }
      }
    }
}
