#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "broker/topic_manager.h"
#include "metrics/metrics_registry.h"
#include "store/message_store.h"

namespace vela::broker {

// At most this many (group, topic, queue) triples are read per scrape for consumer lag: a broker
// with more stops there (the figures then cover the first groups by name) and says so once in the
// log. Bounds the work of one scrape, whatever the number of groups.
inline constexpr size_t kMaxLagQueuesPerScrape = 100000;

// The histogram vela_store_flush_latency_seconds (one commit-log flush: msync or fdatasync), fed by
// StoreOptions::flush_observer. Returns the observer to put there; `registry` must outlive it.
std::function<void(int64_t micros)> RegisterFlushLatency(metrics::MetricsRegistry& registry);

// Registers the broker's figures computed when the registry is read (a /metrics scrape, broker
// status), from the store and the topic manager, so nothing is kept between scrapes and a deleted
// group or topic disappears at once:
//   rocketmq_storage_size                      bytes the commit log holds (written minus deleted)
//   rocketmq_storage_flush_behind_bytes        written but not yet flushed
//   rocketmq_storage_dispatch_behind_bytes     written but not yet in the consume queues
//   vela_store_commitlog_segments              segment files
//   vela_store_disk_total_bytes, vela_store_disk_available_bytes, vela_store_disk_used_ratio
//                                              the file system of storePathRootDir (as `df`)
//   rocketmq_topic_number, rocketmq_consumer_group_number
//   rocketmq_consumer_lag_messages{topic, consumer_group}
//   vela_consumer_queue_lag_messages{topic, consumer_group, queue_id}
// Lag is the queue's maximum offset minus the group's committed offset (minus the queue's minimum
// offset where the group committed nothing on that queue yet), over the queues of every topic
// the group committed an offset on: the rule of `vela-admin group progress`. Bounded by
// kMaxLagQueuesPerScrape and by the registry's label-set limit. `store` and `topics` must outlive
// the registry's last read. Thread-safe (the readings run on the reading thread).
void RegisterScrapeMetrics(metrics::MetricsRegistry& registry, store::MessageStore& store, TopicManager& topics,
                           std::string store_dir);

}  // namespace vela::broker
