#include "client/process_queue.h"

#include "common/message_record.h"

namespace vela::client {

std::string KeyedBacklog::KeyOf(const MessageView& message) {
  auto it = message.properties.find(std::string(prop::kShardingKey));
  return it == message.properties.end() ? std::string() : it->second;
}

bool KeyedBacklog::Add(MessageView message, std::string* key) {
  *key = KeyOf(message);
  auto& fifo = fifo_[*key];
  const bool was_idle = fifo.messages.empty();
  fifo.messages.push_back(std::move(message));
  ++size_;
  return was_idle;
}

MessageView* KeyedBacklog::Front(const std::string& key) {
  auto it = fifo_.find(key);
  if (it == fifo_.end() || it->second.messages.empty()) return nullptr;
  return &it->second.messages.front();
}

bool KeyedBacklog::PopFront(const std::string& key) {
  auto it = fifo_.find(key);
  if (it == fifo_.end() || it->second.messages.empty()) return false;
  it->second.messages.pop_front();
  it->second.front_failures = 0;
  --size_;
  if (!it->second.messages.empty()) return true;
  fifo_.erase(it);
  return false;
}

int KeyedBacklog::FrontFailures(const std::string& key) const {
  auto it = fifo_.find(key);
  return it == fifo_.end() ? 0 : it->second.front_failures;
}

int KeyedBacklog::AddFrontFailure(const std::string& key) {
  auto it = fifo_.find(key);
  if (it == fifo_.end() || it->second.messages.empty()) return 0;
  return ++it->second.front_failures;
}

}  // namespace vela::client
