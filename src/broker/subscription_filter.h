#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "filter/filter_cache.h"
#include "filter/sql92.h"
#include "filter/tag_filter.h"
#include "store/message_store.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker {

// SubscriptionFilter adapts a subscription (tag expression or compiled SQL92) to the store's
// MessageFilter: tag hashes are checked on queue entries before any record is read, then the
// exact tag or the SQL92 expression on the record's properties (TAGS and KEYS included).
// Immutable and thread-safe; conversion failures are counted in the shared counter.
class SubscriptionFilter : public store::MessageFilter {
 public:
  // Builds the filter of a pull; returns null for "everything" ("*" or empty tag expression).
  // Errors: InvalidArgument (SubCode::kBadFilter) with the position for a bad expression;
  // FailedPrecondition when SQL92 is asked and enablePropertyFilter is off.
  static Result<std::shared_ptr<const SubscriptionFilter>> Create(v1::FilterType type, const std::string& expression,
                                                                  bool sql_enabled, filter::FilterCache& cache,
                                                                  std::atomic<int64_t>* conversion_failures);

  bool MatchesTagHash(int64_t tag_hash) const override;
  bool MatchesRecord(const RecordView& record) const override;

 private:
  SubscriptionFilter() = default;
  std::optional<filter::TagExpression> tags_;
  std::shared_ptr<const filter::Sql92Expression> sql_;
  std::atomic<int64_t>* conversion_failures_ = nullptr;
};

}  // namespace vela::broker
