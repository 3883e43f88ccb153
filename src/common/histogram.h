#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace vela {

// LatencyHistogram records non-negative values (µs, ns, ...) in log-linear buckets with at most
// 1/128 (< 1 %) relative error, HdrHistogram-style: 128 sub-buckets per power of two. Fixed memory,
// O(1) record. Thread-compatible; Merge() combines per-thread histograms.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void Record(int64_t value);
  void Merge(const LatencyHistogram& other);
  int64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // Value at quantile q in [0, 1] (upper edge of its bucket, clamped to max()).
  int64_t Percentile(double q) const;

 private:
  static constexpr int kSubBits = 7;  // 128 sub-buckets
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits) * kSub;
  static int IndexOf(uint64_t v);
  static uint64_t UpperEdge(int index);
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t sum_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
};

}  // namespace vela
