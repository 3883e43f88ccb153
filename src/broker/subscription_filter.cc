#include "broker/subscription_filter.h"

#include "broker/logger.h"

namespace vela::broker {

Result<std::shared_ptr<const SubscriptionFilter>> SubscriptionFilter::Create(
    v1::FilterType type, const std::string& expression, bool sql_enabled, filter::FilterCache& cache,
    std::atomic<int64_t>* conversion_failures) {
  std::shared_ptr<SubscriptionFilter> f(new SubscriptionFilter());
  f->conversion_failures_ = conversion_failures;
  if (type == v1::FILTER_SQL92) {
    if (!sql_enabled) {
      return Status::FailedPrecondition(
          "SQL92 filtering is disabled on this broker (set enablePropertyFilter = true to allow it)");
    }
    auto compiled = cache.GetOrCompile(expression);
    if (!compiled.ok()) {
      return Status(StatusCode::kInvalidArgument, compiled.status().message(), SubCode::kBadFilter);
    }
    f->sql_ = std::move(compiled).value();
    return std::shared_ptr<const SubscriptionFilter>(f);
  }
  auto tags = filter::TagExpression::Parse(expression);
  if (!tags.ok()) return Status(StatusCode::kInvalidArgument, tags.status().message(), SubCode::kBadFilter);
  if (tags->matches_all()) return std::shared_ptr<const SubscriptionFilter>();
  f->tags_ = std::move(tags).value();
  return std::shared_ptr<const SubscriptionFilter>(f);
}

bool SubscriptionFilter::MatchesTagHash(int64_t tag_hash) const {
  if (tags_) return tags_->MatchesHash(tag_hash);
  return true;
}

bool SubscriptionFilter::MatchesRecord(const RecordView& record) const {
  if (tags_) return tags_->Matches(record.Tag());
  if (sql_) {
    bool conversion_failed = false;
    bool match = sql_->Matches(filter::EncodedPropertySource(record.properties), &conversion_failed);
    if (conversion_failed && conversion_failures_) {
      int64_t n = conversion_failures_->fetch_add(1, std::memory_order_relaxed);
      if ((n & (n - 1)) == 0) {  // log at a falling rate: 1st, 2nd, 4th, 8th, ...
        BrokerLogger()->info("SQL92 '{}' could not convert a property of message {} (seen {} times)", sql_->text(),
                             record.msg_id, n + 1);
      }
    }
    return match;
  }
  return true;
}

}  // namespace vela::broker
