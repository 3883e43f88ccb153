#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker/topic_manager.h"
#include "common/result.h"
#include "store/message_store.h"

namespace vela::broker {

// One queue's progress of a consumer group: the queue's max offset on this broker, the group's
// committed offset (-1: none committed yet) and the lag (what is left to consume: from the
// committed offset, or from the queue's min offset when none is committed).
struct QueueProgress {
  std::string topic;
  int32_t queue_id = 0;
  int64_t broker_offset = 0;
  int64_t consumer_offset = -1;
  int64_t lag = 0;
};

// The progress of `group` on every queue of `topic`, or (topic empty) of every topic the group
// has committed offsets on, by topic name then queue; topics unknown to this broker are left out.
// What `vela-admin group progress` (GROUP_PROGRESS) and the console's /api/groups show. Reads the
// store's metadata (RocksDB): call it off the io threads. Thread-safe.
std::vector<QueueProgress> GroupProgress(store::MessageStore& store, const TopicManager& topics,
                                         const std::string& group, const std::string& topic);

// OK when `to` names a reset target: "earliest", "latest", or "" (a time); else InvalidArgument.
Status CheckResetTarget(const std::string& to);

// Moves the committed offset of `group` on every readable queue of `topic` (its config) to
// `to` = "earliest" (the queue's min offset) or "latest" (its max offset), or, when `to` is empty,
// to the first message stored at or after `timestamp_ms`; returns each queue's new progress. What
// `vela-admin group reset-offset` (RESET_OFFSET) and the console's POST /api/groups/reset-offset
// do; the callers check that the topic and the group exist. InvalidArgument for another `to`, or
// the store's error when a commit fails (the queues before it are moved). Writes the store's
// metadata (RocksDB): call it off the io threads. Thread-safe.
Result<std::vector<QueueProgress>> ResetGroupOffsets(store::MessageStore& store, const store::TopicConfig& topic,
                                                     const std::string& group, const std::string& to,
                                                     int64_t timestamp_ms);

}  // namespace vela::broker
