#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "filter/sql92.h"

namespace vela::filter {

// A bounded cache from expression text to its compiled Sql92Expression, so each subscription is
// compiled once however many pulls use it. Least recently used entries are evicted beyond
// `capacity`. Evicted expressions stay valid for whoever still holds them (shared_ptr).
// Compile errors are not cached. Thread-safe: one mutex, never held while compiling.
class FilterCache {
 public:
  static constexpr size_t kDefaultCapacity = 1024;

  explicit FilterCache(size_t capacity = kDefaultCapacity);
  FilterCache(const FilterCache&) = delete;
  FilterCache& operator=(const FilterCache&) = delete;

  // Returns the compiled expression for `text`, compiling it on a miss. Fails as
  // Sql92Expression::Compile does (kInvalidArgument, SubCode::kBadFilter).
  Result<std::shared_ptr<const Sql92Expression>> GetOrCompile(std::string_view text);
  // The cached expression, or nullptr on a miss (never compiles).
  std::shared_ptr<const Sql92Expression> Lookup(std::string_view text);

  size_t size() const;
  size_t capacity() const { return capacity_; }
  void Clear();
  // Counters since construction (for metrics).
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const Sql92Expression>>;

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recently used; guarded by mu_
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // keys view lru_ strings; mu_
  uint64_t hits_ = 0;    // mu_
  uint64_t misses_ = 0;  // mu_
};

}  // namespace vela::filter
