#include "client/process_queue.h"

#include "common/message_record.h"

namespace vela::client {

std::string KeyedBacklog::KeyOf(const MessageView& message) {
  auto it = message.properties.find(std::string(prop::kShardingKey));
  return it == message.properties.end() ? std::string() : it->second;
}

bool KeyedBacklog::Add(MessageView message, std::string* key) {
  *key = KeyOf(message);
  auto it = fifo_.find(*key);
  if (it == fifo_.end()) {
    if (spare_.empty()) {
      it = fifo_.emplace(*key, Fifo{}).first;
    } else {
      auto node = std::move(spare_.back());
      spare_.pop_back();
      node.key() = *key;
      it = fifo_.insert(std::move(node)).position;
    }
  }
  Fifo& fifo = it->second;
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
  // The idle key's entry (map node and queue storage) is kept for the next key that wakes.
  auto node = fifo_.extract(it);
  if (spare_.size() < kMaxSpareFifos) spare_.push_back(std::move(node));
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
