#include "common/histogram.h"

#include <algorithm>
#include <bit>

namespace vela {

LatencyHistogram::LatencyHistogram() : counts_(kBuckets + kSub, 0) {}

int LatencyHistogram::IndexOf(uint64_t v) {
  if (v < static_cast<uint64_t>(kSub)) return static_cast<int>(v);
  int msb = 63 - std::countl_zero(v);  // >= kSubBits
  int shift = msb - kSubBits;          // keeps the top kSubBits + 1 bits
  auto sub = static_cast<int>((v >> shift) & (kSub - 1));
  return (shift + 1) * kSub + sub;
}

uint64_t LatencyHistogram::UpperEdge(int index) {
  if (index < kSub) return static_cast<uint64_t>(index);
  int shift = index / kSub - 1;
  auto sub = static_cast<uint64_t>(index % kSub);
  return ((sub | static_cast<uint64_t>(kSub)) << shift) + ((1ull << shift) - 1);
}

void LatencyHistogram::Record(int64_t value) {
  if (value < 0) value = 0;
  int idx = IndexOf(static_cast<uint64_t>(value));
  if (idx >= static_cast<int>(counts_.size())) idx = static_cast<int>(counts_.size()) - 1;
  ++counts_[idx];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  auto target = static_cast<int64_t>(q * static_cast<double>(count_));
  if (target >= count_) target = count_ - 1;
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen > target) return std::min<int64_t>(static_cast<int64_t>(UpperEdge(static_cast<int>(i))), max_);
  }
  return max_;
}

}  // namespace vela
