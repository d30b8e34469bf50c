// Helpers shared by the benchmarks in bench/: wall-clock time, medians, timed repetitions, random
// inputs, one JSON object per line, the machine's measured read bandwidth (the yardstick for bandwidth-bound kernels) and FP32 peak
// (the yardstick for model-FLOPs utilisation).
#pragma once
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/core/parallel.h"
#include "tunekit/tensor.h"

namespace tunekit::bench {

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

inline void print_json_line(const nlohmann::ordered_json& line) { std::cout << line.dump() << std::endl; }

inline double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Seconds per call, the median and best of reps timed calls (at least one) after one untimed call:
// wall clock, and the CPU time of the whole process (spinning pool threads included). With one
// thread the CPU figure is the kernel's speed on one core whatever else the machine runs.
struct Timing {
  double median_s = 0, best_s = 0, cpu_median_s = 0;
};
template <class Fn>
Timing time_it(int reps, const Fn& fn) {
  fn();
  std::vector<double> wall, cpu;
  for (int i = 0; i < std::max(reps, 1); ++i) {
    const double t0 = now_seconds(), c0 = process_cpu_seconds();
    fn();
    wall.push_back(now_seconds() - t0);
    cpu.push_back(process_cpu_seconds() - c0);
  }
  return {median(wall), *std::min_element(wall.begin(), wall.end()), median(cpu)};
}

// Uniform values in [-scale, scale) from a seeded xorshift, filled in parallel (the values do not
// affect speed).
inline std::vector<float> random_values(int64_t n, float scale, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  parallel_for(n, [&](int64_t begin, int64_t end) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + uint64_t(begin) + 1;
    for (int64_t i = begin; i < end; ++i) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      v[size_t(i)] = scale * (float(s >> 40) / float(1 << 23) - 1.0f);
    }
  });
  return v;
}

// An f32 tensor of random_values.
inline Tensor random_f32(std::vector<int64_t> shape, float scale, uint64_t seed) {
  Tensor t = Tensor::zeros(DType::F32, std::move(shape));
  const std::vector<float> v = random_values(t.numel(), scale, seed);
  std::copy(v.begin(), v.end(), t.as<float>());
  return t;
}

// What a figure was measured on: the CPU model, the logical CPUs and the 1-minute load average
// (the machines are shared; a load above ~1 means neighbours took part of the cores).
inline nlohmann::ordered_json machine_info() {
  std::string cpu = "unknown", line;
  std::ifstream cpuinfo("/proc/cpuinfo");
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  double load_1min = -1;
  std::ifstream("/proc/loadavg") >> load_1min;
  return {{"cpu", cpu}, {"logical_cpus", std::thread::hardware_concurrency()}, {"load_avg_1min", load_1min}};
}

struct ReadBandwidth {
  double best_gbs = 0;        // the figure to divide by: best of the passes
  std::vector<double> passes_gbs;
  size_t buffer_bytes = 0;
};

// Measures read bandwidth by summing a buffer of buffer_bytes (choose it far beyond the cache, e.g.
// 512 MiB: the shared L3 of these VMs stops helping at 32-128 MiB) with parallel_for, i.e. in
// contiguous chunks on all num_threads() threads, as the streaming kernels read weights (the
// compiler vectorizes the sum; it is as fast as a hand-written AVX-512 loop here). Keeps the buffer,
// so that a benchmark can measure again right before each timed run (the bandwidth a VM gets moves
// with its neighbours).
class ReadBandwidthProbe {
 public:
  explicit ReadBandwidthProbe(size_t buffer_bytes) : words_(buffer_bytes / sizeof(uint64_t)) {
    parallel_for(int64_t(words_.size()), [&](int64_t begin, int64_t end) {
      std::memset(words_.data() + begin, 1, size_t(end - begin) * sizeof(uint64_t));
    });
  }

  // passes timed sums (at least one) after one untimed one. GB = 1e9 bytes.
  ReadBandwidth measure(int passes) {
    ReadBandwidth result;
    result.buffer_bytes = words_.size() * sizeof(uint64_t);
    read_all();
    for (int p = 0; p < std::max(passes, 1); ++p) {
      const double t0 = now_seconds();
      read_all();
      result.passes_gbs.push_back(double(result.buffer_bytes) / (now_seconds() - t0) / 1e9);
    }
    result.best_gbs = *std::max_element(result.passes_gbs.begin(), result.passes_gbs.end());
    return result;
  }

 private:
  void read_all() {
    parallel_for(int64_t(words_.size()), [&](int64_t begin, int64_t end) {
      uint64_t sum = 0;
      for (int64_t i = begin; i < end; ++i) sum += words_[size_t(i)];
      sink_ += sum;
    });
  }

  std::vector<uint64_t> words_;
  std::atomic<uint64_t> sink_{0};  // keeps the sums alive
};

inline ReadBandwidth measure_read_bandwidth(size_t buffer_bytes, int passes) {
  return ReadBandwidthProbe(buffer_bytes).measure(passes);
}

// GFLOP/s of fused multiply-adds on `threads` threads at once (their own std::threads, so that all
// of them run whatever the pool does): each runs 12 independent chains of 512-bit FMAs (enough to
// hide their latency on two FMA pipes) that never touch memory; best of 3, from the start of the
// first thread to the end of the last. 0 in builds without AVX-512 (not measured).
inline double fp32_peak_gflops(int threads) {
#ifdef __AVX512F__
  constexpr int64_t kIters = 20'000'000;
  auto chains = [] {
    __m512 a0 = _mm512_set1_ps(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
           a10 = a0, a11 = a0;
    const __m512 m = _mm512_set1_ps(0.5f), c = _mm512_set1_ps(0.25f);
    for (int64_t i = 0; i < kIters; ++i) {
      for (__m512* v : {&a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7, &a8, &a9, &a10, &a11}) *v = _mm512_fmadd_ps(*v, m, c);
      // The chains stay in registers and are not folded away.
      __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8),
                       "+v"(a9), "+v"(a10), "+v"(a11));
    }
  };
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now_seconds();
    std::vector<std::thread> team;
    for (int t = 0; t < threads; ++t) team.emplace_back(chains);
    for (auto& t : team) t.join();
    best = std::min(best, now_seconds() - t0);
  }
  return double(threads) * double(kIters) * 12 * 16 * 2 / best / 1e9;
#else
  (void)threads;
  return 0;
#endif
}

}  // namespace tunekit::bench
