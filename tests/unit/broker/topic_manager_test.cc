// TopicManager's trust rules without a store on disk: reserved names only through the internal
// path, and the cap on automatically created groups.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/topic_manager.h"
#include "support/test_support.h"

namespace vela::broker {
namespace {

// An in-memory MetaStore: only topics and groups are used by TopicManager.
class MemoryMetaStore final : public store::MetaStore {
 public:
  Status PutTopic(const store::TopicConfig& topic) override {
    topics[topic.name] = topic;
    return Status::OK();
  }
  std::optional<store::TopicConfig> GetTopic(std::string_view name) override {
    auto it = topics.find(std::string(name));
    if (it == topics.end()) return std::nullopt;
    return it->second;
  }
  Status DeleteTopic(std::string_view name) override {
    topics.erase(std::string(name));
    return Status::OK();
  }
  std::vector<store::TopicConfig> ListTopics() override {
    std::vector<store::TopicConfig> out;
    for (auto& [n, t] : topics) out.push_back(t);
    return out;
  }
  Status PutGroup(const store::GroupConfig& group) override {
    groups[group.name] = group;
    return Status::OK();
  }
  Status PutTopics(const std::vector<store::TopicConfig>& many) override {
    for (const auto& t : many) topics[t.name] = t;
    return Status::OK();
  }
  Status PutGroups(const std::vector<store::GroupConfig>& many) override {
    for (const auto& g : many) groups[g.name] = g;
    return Status::OK();
  }
  std::optional<store::GroupConfig> GetGroup(std::string_view name) override {
    auto it = groups.find(std::string(name));
    if (it == groups.end()) return std::nullopt;
    return it->second;
  }
  std::vector<store::GroupConfig> ListGroups() override {
    std::vector<store::GroupConfig> out;
    for (auto& [n, g] : groups) out.push_back(g);
    return out;
  }
  Status CommitOffset(std::string_view, std::string_view, uint32_t, store::QueueOffset) override {
    return Status::OK();
  }
  std::optional<store::QueueOffset> QueryOffset(std::string_view, std::string_view, uint32_t) override {
    return std::nullopt;
  }
  std::map<std::pair<std::string, uint32_t>, store::QueueOffset> GroupOffsets(std::string_view) override { return {}; }
  Status PutState(std::string_view, std::string_view) override { return Status::OK(); }
  std::optional<std::string> GetState(std::string_view) override { return std::nullopt; }
  Status DeleteState(std::string_view) override { return Status::OK(); }
  void ScanState(std::string_view, const std::function<bool(std::string_view, std::string_view)>&) override {}
  void ScanStateFrom(std::string_view, std::string_view,
                     const std::function<bool(std::string_view, std::string_view)>&) override {}
  Status WriteState(const StateBatch&) override { return Status::OK(); }

  std::map<std::string, store::TopicConfig> topics;
  std::map<std::string, store::GroupConfig> groups;
};

store::TopicConfig Topic(const std::string& name) {
  store::TopicConfig t;
  t.name = name;
  t.read_queues = t.write_queues = 4;
  return t;
}

TEST(TopicManagerTest, ClientPathRefusesReservedNames) {
  MemoryMetaStore meta;
  TopicManager topics(meta);
  for (const char* name : {"%RETRY%g", "%DLQ%g", "RMQ_SYS_TRANS_HALF_TOPIC", "rmq_sys_wheel_timer",
                           "TRANS_CHECK_MAX_TIME_TOPIC", "RMQ_SYS_TRACE_TOPIC", "a%b"}) {
    Status s = topics.UpsertTopic(Topic(name));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_FALSE(topics.GetTopic(name).has_value()) << name;
  }
  EXPECT_TRUE(meta.topics.empty());
  EXPECT_OK(topics.UpsertTopic(Topic("orders")));
}

TEST(TopicManagerTest, InternalPathCreatesOnlySystemTopics) {
  MemoryMetaStore meta;
  TopicManager topics(meta);
  EXPECT_OK(topics.UpsertSystemTopic(Topic("%RETRY%g")));
  EXPECT_OK(topics.UpsertSystemTopic(Topic("RMQ_SYS_TRANS_HALF_TOPIC")));
  EXPECT_TRUE(topics.GetTopic("%RETRY%g").has_value());
  EXPECT_FALSE(topics.UpsertSystemTopic(Topic("orders")).ok());
  EXPECT_FALSE(topics.UpsertSystemTopic(Topic("%RETRY% bad")).ok());
  EXPECT_EQ(meta.topics.size(), 2u);
}

TEST(TopicManagerTest, AutoCreatedGroupsStopAtTheLimit) {
  MemoryMetaStore meta;
  TopicManager topics(meta);
  store::GroupConfig g;
  for (int i = 0; i < 3; ++i) {
    g.name = "g" + std::to_string(i);
    ASSERT_OK_AND_ASSIGN(bool created, topics.CreateGroupIfAbsent(g, 3));
    EXPECT_TRUE(created);
  }
  g.name = "g0";
  ASSERT_OK_AND_ASSIGN(bool again, topics.CreateGroupIfAbsent(g, 3));
  EXPECT_FALSE(again);  // exists: not created, not refused
  g.name = "g3";
  auto over = topics.CreateGroupIfAbsent(g, 3);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("autoCreateSubscriptionGroupLimit"), std::string_view::npos);
  EXPECT_EQ(topics.group_count(), 3u);
  EXPECT_FALSE(topics.GetGroup("g3").has_value());
  // An explicit creation is not limited.
  EXPECT_OK(topics.UpsertGroup(g));
  EXPECT_EQ(topics.group_count(), 4u);
  // Bad names are refused before the limit is looked at.
  g.name = "bad name";
  EXPECT_EQ(topics.CreateGroupIfAbsent(g, 100).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vela::broker
