#include "broker/scrape_metrics.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <system_error>

#include "broker/logger.h"

namespace vela::broker {
namespace {

// vela_store_flush_latency_seconds: a page-cache msync is well under a millisecond, an fdatasync on
// a disk a few milliseconds, a stalled device seconds.
const std::vector<double> kFlushLatencyBucketsS = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                   0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5};

std::vector<metrics::GaugeReading> One(double value) { return {metrics::GaugeReading{{}, value}}; }

struct QueueLag {
  std::string group;
  std::string topic;
  uint32_t queue_id;
  int64_t lag;
};

// Every (group, topic, queue) lag, in group then topic then queue order, at most
// kMaxLagQueuesPerScrape of them.
std::vector<QueueLag> ReadLags(store::MessageStore& store, TopicManager& topics) {
  static std::atomic<bool> truncation_logged{false};
  std::vector<QueueLag> out;
  std::map<std::string, store::GroupConfig> groups;
  for (auto& g : topics.ListGroups()) groups.emplace(g.name, std::move(g));
  for (const auto& [group, config] : groups) {
    const auto offsets = store.meta().GroupOffsets(group);
    std::map<std::string, bool> seen_topics;
    for (const auto& [key, offset] : offsets) seen_topics.emplace(key.first, true);
    for (const auto& [topic_name, unused] : seen_topics) {
      auto topic = topics.GetTopic(topic_name);
      if (!topic) continue;
      for (int32_t q = 0; q < topic->read_queues; ++q) {
        if (out.size() >= kMaxLagQueuesPerScrape) {
          if (!truncation_logged.exchange(true)) {
            BrokerLogger()->warn("consumer lag metrics cover the first {} (group, topic, queue) triples only",
                                 kMaxLagQueuesPerScrape);
          }
          return out;
        }
        const auto queue_id = static_cast<uint32_t>(q);
        const store::QueueOffset max = store.MaxQueueOffset(topic_name, queue_id);
        auto it = offsets.find({topic_name, queue_id});
        const store::QueueOffset from = it != offsets.end() ? it->second : store.MinQueueOffset(topic_name, queue_id);
        out.push_back(QueueLag{group, topic_name, queue_id, std::max<int64_t>(0, max - from)});
      }
    }
  }
  return out;
}

}  // namespace

std::function<void(int64_t micros)> RegisterFlushLatency(metrics::MetricsRegistry& registry) {
  metrics::Histogram histogram = registry.SingleHistogram(
      "vela_store_flush_latency_seconds", "Time of one commit-log flush to disk, in seconds", kFlushLatencyBucketsS);
  return [histogram](int64_t micros) { histogram.Observe(static_cast<double>(micros) / 1e6); };
}

void RegisterScrapeMetrics(metrics::MetricsRegistry& registry, store::MessageStore& store, TopicManager& topics,
                           std::string store_dir) {
  using Readings = std::vector<metrics::GaugeReading>;
  registry.CollectedGauges("rocketmq_storage_size", "Bytes the commit log holds (written minus deleted)", {},
                           [&store] {
                             const auto s = store.stats();
                             return One(static_cast<double>(s.max_physical_offset - s.min_physical_offset));
                           });
  registry.CollectedGauges("rocketmq_storage_flush_behind_bytes", "Commit-log bytes written but not yet flushed", {},
                           [&store] {
                             const auto s = store.stats();
                             return One(static_cast<double>(s.max_physical_offset - s.flushed_offset));
                           });
  registry.CollectedGauges("rocketmq_storage_dispatch_behind_bytes",
                           "Commit-log bytes written but not yet dispatched to the consume queues", {}, [&store] {
                             const auto s = store.stats();
                             return One(static_cast<double>(s.max_physical_offset - s.dispatched_offset));
                           });
  registry.CollectedGauges("vela_store_commitlog_segments", "Commit-log segment files", {},
                           [&store] { return One(static_cast<double>(store.stats().commitlog_segments)); });
  // One statvfs per gauge and scrape: cheap, and never stale.
  auto space = [store_dir](auto pick) {
    return [store_dir, pick]() -> Readings {
      std::error_code ec;
      const auto info = std::filesystem::space(store_dir, ec);
      if (ec) return {};
      return One(pick(info));
    };
  };
  registry.CollectedGauges("vela_store_disk_total_bytes", "Size of the file system holding storePathRootDir", {},
                           space([](const std::filesystem::space_info& i) { return static_cast<double>(i.capacity); }));
  registry.CollectedGauges(
      "vela_store_disk_available_bytes", "Bytes available to the broker on the file system of storePathRootDir", {},
      space([](const std::filesystem::space_info& i) { return static_cast<double>(i.available); }));
  registry.CollectedGauges(
      "vela_store_disk_used_ratio",
      "Used fraction (0..1) of the file system of storePathRootDir, as df counts it (diskMaxUsedSpaceRatio's measure)",
      {}, space([](const std::filesystem::space_info& i) {
        const double used = static_cast<double>(i.capacity - i.free);
        const double usable = used + static_cast<double>(i.available);
        return usable > 0 ? used / usable : 0.0;
      }));
  registry.CollectedGauges("rocketmq_topic_number", "Topics on the broker", {},
                           [&topics] { return One(static_cast<double>(topics.ListTopics().size())); });
  registry.CollectedGauges("rocketmq_consumer_group_number", "Subscription groups on the broker", {},
                           [&topics] { return One(static_cast<double>(topics.group_count())); });
  registry.CollectedGauges(
      "rocketmq_consumer_lag_messages",
      "Messages of the topic not yet committed by the consumer group, summed over the broker's queues",
      {"topic", "consumer_group"}, [&store, &topics] {
        std::map<std::pair<std::string, std::string>, int64_t> sums;
        for (const auto& l : ReadLags(store, topics)) sums[{l.topic, l.group}] += l.lag;
        Readings out;
        out.reserve(sums.size());
        for (const auto& [key, lag] : sums) {
          out.push_back(metrics::GaugeReading{{key.first, key.second}, static_cast<double>(lag)});
        }
        return out;
      });
  registry.CollectedGauges("vela_consumer_queue_lag_messages",
                           "Messages of one queue not yet committed by the consumer group",
                           {"topic", "consumer_group", "queue_id"}, [&store, &topics] {
                             Readings out;
                             for (const auto& l : ReadLags(store, topics)) {
                               out.push_back(metrics::GaugeReading{{l.topic, l.group, std::to_string(l.queue_id)},
                                                                   static_cast<double>(l.lag)});
                             }
                             return out;
                           });
}

}  // namespace vela::broker
