// Checks the fused kernels (kernels.inc: KernelSource.Code, written by FusedKernelTests) in the CPU emulation of
// emu.h against float64 computations, on small shapes that reach every code path: strided rows, vector and scalar
// loads, affine or not, SiLU or not, several statistics blocks per group, permuted (B, C, F, H·W) frames. The launch arithmetic
// mirrors FusedKernels.cs. Prints one line per case; exits 1 if any case is off.
#include "emu.h"
#include <random>
#include <type_traits>
#include "kernels.inc"

static std::mt19937 rng(42);
static int failures = 0;

template <typename T> std::vector<T> random_values(size_t n, float std = 1.f, float mean = 0.f) {
  std::normal_distribution<float> normal(mean, std);
  std::vector<T> v(n);
  for (auto& e : v) e = from_float<T>(normal(rng));
  return v;
}

// Rounding once to T costs at most half a unit in the last place of values up to ~8.
template <typename T> double tolerance() {
  return std::is_same<T, float>::value ? 1e-5 : std::is_same<T, bf16>::value ? 4e-2 : 5e-3;
}

static void report(const char* what, double error, double tol) {
  bool ok = error <= tol;
  std::printf("%-52s max error %.3e (tolerance %.1e) %s\n", what, error, tol, ok ? "ok" : "FAIL");
  if (!ok) failures++;
}

static long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

// (a) the k part of a fused (B, S, 3·H·d) projection, normalised per head.
template <typename T, int VEC> void check_per_head(const char* name, bool affine) {
  const long long B = 2, S = 5, H = 3, d = 32 * VEC, width = 3 * H * d, rows = B * S * H;
  auto qkv = random_values<T>(B * S * width, 1.5f, 0.3f);
  auto w = random_values<T>(d), b = random_values<T>(d);
  std::vector<T> y(rows * d);
  const T* x = qkv.data() + H * d;
  launch({(unsigned)ceil_div(rows, 8), 1, 1}, 256, [&] {
    layernorm_heads<T, VEC>(x, y.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr, rows, H, width, d, 1e-6f);
  });
  double error = 0;
  for (long long r = 0; r < rows; r++) {
    const T* in = x + (r / H) * width + (r % H) * d;
    double mean = 0, var = 0;
    for (int j = 0; j < d; j++) mean += to_float(in[j]);
    mean /= d;
    for (int j = 0; j < d; j++) var += (to_float(in[j]) - mean) * (to_float(in[j]) - mean);
    var /= d;
    for (int j = 0; j < d; j++) {
      double o = (to_float(in[j]) - mean) / std::sqrt(var + 1e-6);
      if (affine) o = o * to_float(w[j]) + to_float(b[j]);
      error = std::max(error, std::fabs(o - to_float(y[r * d + j])));
    }
  }
  report(name, error, tolerance<T>() * 2);
}

// (b) LayerNorm + modulation with scale/shift rows taken from a (S, 6, D) table (sample stride 6·D).
// `pad_rows`: each sample's output rows start pad_rows rows after the previous sample's end (a part of a joint sequence).
template <typename T, int VEC> void check_modulate(const char* name, int D, bool affine, int pad_rows = 0) {
  const long long samples = 3, per_sample = 7, rows = samples * per_sample, stride = 6LL * D;
  const long long out_stride = (per_sample + pad_rows) * D;
  auto x = random_values<T>(rows * D, 2.f, 0.5f);
  auto table = random_values<T>(samples * stride, 0.5f);
  auto w = random_values<T>(D), b = random_values<T>(D);
  std::vector<T> y(samples * out_stride);
  const T* shift = table.data();
  const T* scale = table.data() + D;
  launch({(unsigned)ceil_div(rows, 8), 1, 1}, 256, [&] {
    layernorm_modulate<T, VEC>(x.data(), y.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr, scale, shift,
                               rows, per_sample, stride, stride, out_stride, D, 1e-5f);
  });
  double error = 0;
  for (long long r = 0; r < rows; r++) {
    const T* in = x.data() + r * D;
    long long s = r / per_sample;
    double mean = 0, var = 0;
    for (int j = 0; j < D; j++) mean += to_float(in[j]);
    mean /= D;
    for (int j = 0; j < D; j++) var += (to_float(in[j]) - mean) * (to_float(in[j]) - mean);
    var /= D;
    for (int j = 0; j < D; j++) {
      double o = (to_float(in[j]) - mean) / std::sqrt(var + 1e-5);
      if (affine) o = o * to_float(w[j]) + to_float(b[j]);
      o = o * (1 + to_float(scale[s * stride + j])) + to_float(shift[s * stride + j]);
      error = std::max(error, std::fabs(o - to_float(y[s * out_stride + (r - s * per_sample) * D + j])));
    }
  }
  report(name, error, tolerance<T>() * 4);
}

// (c) group_norm(x), then SiLU if `silu`, of a logical (N, C, S1, S2) tensor with the given strides into `storage` elements.
template <typename T, int VEC> void check_groupnorm(const char* name, int N, int C, int S1, int S2, long long sN, long long sC,
                                                     long long sS1, long long storage, int groups, bool silu = true) {
  const int multiprocessors = 132, threads = 256;
  auto x = random_values<T>(storage, 1.3f, 0.7f);
  auto w = random_values<T>(C, 0.5f, 1.f), b = random_values<T>(C, 0.3f);
  const long long total = (long long)N * C * S1 * S2, group_size = total / ((long long)N * groups);
  const long long splits = std::clamp(ceil_div(4LL * multiprocessors, (long long)N * groups), 1LL,
                                      std::max(1LL, group_size / (threads * VEC * 4LL)));
  std::vector<float> workspace(N * groups * splits * 3 + N * C * 2, NAN);
  float* partial = workspace.data();
  float* coef = partial + N * groups * splits * 3;
  std::vector<T> y(total);
  launch({(unsigned)(N * groups), (unsigned)splits, 1}, threads, [&] {
    groupnorm_stats<T, VEC>(x.data(), partial, C, S1, S2, sN, sC, sS1, groups, (int)splits);
  });
  launch({(unsigned)ceil_div((long long)N * C, threads), 1, 1}, threads, [&] {
    groupnorm_finalize<T>(partial, w.data(), b.data(), coef, N, C, groups, (int)splits, 1e-5f);
  });
  const long long step = (long long)threads * VEC;
  const long long chunk = std::max(step * 4, ceil_div(ceil_div(total, 16LL * multiprocessors), step) * step);
  launch({(unsigned)ceil_div(total, chunk), 1, 1}, threads, [&] {
    groupnorm_apply<T, VEC>(x.data(), y.data(), coef, C, S1, S2, sN, sC, sS1, total, chunk, silu ? 1 : 0);
  });
  double error = 0;
  const int per_group = C / groups;
  auto at = [&](int n, int c, int s1, int s2) { return (double)to_float(x[n * sN + c * sC + s1 * sS1 + s2]); };
  for (int n = 0; n < N; n++)
    for (int g = 0; g < groups; g++) {
      double mean = 0, var = 0, count = (double)per_group * S1 * S2;
      for (int c = g * per_group; c < (g + 1) * per_group; c++)
        for (int s1 = 0; s1 < S1; s1++)
          for (int s2 = 0; s2 < S2; s2++) mean += at(n, c, s1, s2);
      mean /= count;
      for (int c = g * per_group; c < (g + 1) * per_group; c++)
        for (int s1 = 0; s1 < S1; s1++)
          for (int s2 = 0; s2 < S2; s2++) var += (at(n, c, s1, s2) - mean) * (at(n, c, s1, s2) - mean);
      var /= count;
      for (int c = g * per_group; c < (g + 1) * per_group; c++)
        for (int s1 = 0; s1 < S1; s1++)
          for (int s2 = 0; s2 < S2; s2++) {
            double z = (at(n, c, s1, s2) - mean) / std::sqrt(var + 1e-5) * to_float(w[c]) + to_float(b[c]);
            double o = silu ? z / (1 + std::exp(-z)) : z;
            error = std::max(error, std::fabs(o - to_float(y[(((long long)n * C + c) * S1 + s1) * S2 + s2])));
          }
    }
  char label[128];
  std::snprintf(label, sizeof label, "%s%s, %lld split%s", name, silu ? " + SiLU" : "", splits, splits > 1 ? "s" : "");
  report(label, error, tolerance<T>() * 2);
}

// (d) group_norm(x) of a channels-last (N, C, S) tensor, element (n, c, s) at n·sN + s·sS + c, into dense (N, S, C).
template <typename T, int VEC> void check_groupnorm_cl(const char* name, int N, int C, int S, long long sN, long long sS,
                                                        long long storage, int groups, bool silu = true) {
  const int multiprocessors = 132, threads = 256;
  auto x = random_values<T>(storage, 1.3f, 0.7f);
  auto w = random_values<T>(C, 0.5f, 1.f), b = random_values<T>(C, 0.3f);
  const long long total = (long long)N * C * S;
  const long long splits = std::clamp(ceil_div(4LL * multiprocessors, (long long)N), 1LL, std::max(1LL, (long long)S / 16));
  std::vector<float> workspace(N * groups * splits * 3 + N * C * 2, NAN);
  float* partial = workspace.data();
  float* coef = partial + N * groups * splits * 3;
  std::vector<T> y(total);
  launch({(unsigned)N, (unsigned)splits, 1}, threads, [&] {
    groupnorm_stats_cl<T>(x.data(), partial, C, S, sN, sS, groups, (int)splits);
  });
  launch({(unsigned)ceil_div((long long)N * C, threads), 1, 1}, threads, [&] {
    groupnorm_finalize<T>(partial, w.data(), b.data(), coef, N, C, groups, (int)splits, 1e-5f);
  });
  const long long step = (long long)threads * VEC;
  const long long chunk = std::max(step * 4, ceil_div(ceil_div(total, 16LL * multiprocessors), step) * step);
  launch({(unsigned)ceil_div(total, chunk), 1, 1}, threads, [&] {
    groupnorm_apply_cl<T, VEC>(x.data(), y.data(), coef, C, S, sN, sS, total, chunk, silu ? 1 : 0);
  });
  double error = 0;
  const int per_group = C / groups;
  auto at = [&](int n, int c, int s) { return (double)to_float(x[n * sN + s * sS + c]); };
  for (int n = 0; n < N; n++)
    for (int g = 0; g < groups; g++) {
      double mean = 0, var = 0, count = (double)per_group * S;
      for (int c = g * per_group; c < (g + 1) * per_group; c++)
        for (int s = 0; s < S; s++) mean += at(n, c, s);
      mean /= count;
      for (int c = g * per_group; c < (g + 1) * per_group; c++)
        for (int s = 0; s < S; s++) var += (at(n, c, s) - mean) * (at(n, c, s) - mean);
      var /= count;
      for (int c = g * per_group; c < (g + 1) * per_group; c++)
        for (int s = 0; s < S; s++) {
          double z = (at(n, c, s) - mean) / std::sqrt(var + 1e-5) * to_float(w[c]) + to_float(b[c]);
          double o = silu ? z / (1 + std::exp(-z)) : z;
          error = std::max(error, std::fabs(o - to_float(y[((long long)n * S + s) * C + c])));
        }
    }
  char label[128];
  std::snprintf(label, sizeof label, "%s%s, %lld split%s", name, silu ? " + SiLU" : "", splits, splits > 1 ? "s" : "");
  report(label, error, tolerance<T>() * 2);
}

int main() {
  check_per_head<bf16, 2>("per-head d64 bf16, strided", true);
  check_per_head<float, 2>("per-head d64 f32, strided", true);
  check_per_head<f16, 4>("per-head d128 f16, strided", true);
  check_per_head<float, 1>("per-head d32 f32, no affine", false);

  check_modulate<bf16, 4>("modulate D=1152 bf16 vec4, no affine", 1152, false);
  check_modulate<float, 4>("modulate D=192 f32 vec4, affine", 192, true);
  check_modulate<f16, 1>("modulate D=99 f16 scalar, affine", 99, true);
  check_modulate<float, 1>("modulate D=37 f32 scalar, no affine", 37, false);
  check_modulate<bf16, 4>("modulate D=192 bf16 vec4, into a joint sequence", 192, true, 5);
  check_modulate<float, 1>("modulate D=37 f32 scalar, into a joint sequence", 37, false, 2);

  check_groupnorm<bf16, 4>("groupnorm (3, 64, 8x8) bf16 vec4", 3, 64, 1, 64, 64 * 64, 64, 0, 3 * 64 * 64, 32);
  check_groupnorm<float, 4>("groupnorm (2, 32, 32x32) f32 vec4", 2, 32, 1, 1024, 32 * 1024, 1024, 0, 2 * 32 * 1024, 4);
  check_groupnorm<float, 4>("groupnorm (1, 8, 8192) f32 vec4", 1, 8, 1, 8192, 8 * 8192, 8192, 0, 8 * 8192, 2);
  check_groupnorm<f16, 1>("groupnorm (2, 6, 5x7) f16 scalar", 2, 6, 5, 7, 6 * 35, 35, 7, 2 * 6 * 35, 3);
  check_groupnorm<float, 1>("groupnorm (2, 6, 5x7) f32 scalar", 2, 6, 5, 7, 6 * 35, 35, 7, 2 * 6 * 35, 3, false);
  check_groupnorm<float, 1>("groupnorm (2, 4, 9) f32, s1 stride 3", 2, 4, 9, 1, 4 * 9 * 3, 1, 4 * 3, 2 * 4 * 9 * 3, 2);
  {  // frames (B, F, C, H·W) seen as (B, C, F, H·W), as TemporalConvLayer's first norm reads them
    const int B = 2, F = 5, C = 32, HW = 16;
    check_groupnorm<bf16, 4>("groupnorm permuted (2, 32, 5, 16) bf16 vec4", B, C, F, HW, (long long)F * C * HW, HW,
                             (long long)C * HW, (long long)B * F * C * HW, 8);
  }
  {
    const int B = 1, F = 16, C = 8, HW = 1024;
    check_groupnorm<float, 4>("groupnorm permuted (1, 8, 16, 1024) f32 vec4", B, C, F, HW, (long long)F * C * HW, HW,
                              (long long)C * HW, (long long)B * F * C * HW, 2);
    check_groupnorm<float, 1>("groupnorm permuted (1, 8, 16, 1024) f32 scalar", B, C, F, HW, (long long)F * C * HW, HW,
                              (long long)C * HW, (long long)B * F * C * HW, 2);
    check_groupnorm<bf16, 4>("groupnorm permuted (1, 8, 16, 1024) bf16 vec4", B, C, F, HW, (long long)F * C * HW, HW,
                             (long long)C * HW, (long long)B * F * C * HW, 4, false);
  }
  // Channels-last frames (N, H·W, C) as ModelScope's resnets see them, a permuted (B, C, F·H·W) view of channels-last
  // frames (the temporal layers), rows padded beyond C, an odd channel count (scalar path), and more channels than threads.
  check_groupnorm_cl<bf16, 4>("groupnorm channels-last (4, 320, 8x8) bf16 vec4", 4, 320, 64, 64LL * 320, 320, 4LL * 64 * 320, 32);
  check_groupnorm_cl<float, 4>("groupnorm channels-last (2, 64, 5x16) f32 vec4, frames", 2, 64, 5 * 16, 5LL * 16 * 64, 64, 2LL * 5 * 16 * 64, 32, false);
  check_groupnorm_cl<float, 4>("groupnorm channels-last (3, 8, 40) f32 vec4, padded rows", 3, 8, 40, 40LL * 12, 12, 3LL * 40 * 12, 2);
  check_groupnorm_cl<f16, 1>("groupnorm channels-last (2, 6, 35) f16 scalar", 2, 6, 35, 35LL * 6, 6, 2LL * 35 * 6, 3);
  check_groupnorm_cl<float, 4>("groupnorm channels-last (1, 1280, 16) f32 vec4, wide", 1, 1280, 16, 0, 1280, 16LL * 1280, 32);
  std::printf("%d case(s) off\n", failures);
  return failures ? 1 : 0;
}
