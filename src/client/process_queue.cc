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
  if (spare_messages_.empty()) {
    fifo.messages.push_back(std::move(message));
  } else {
    fifo.messages.splice(fifo.messages.end(), spare_messages_, spare_messages_.begin());
    fifo.messages.back() = std::move(message);
  }
  ++size_;
  return was_idle;
}

MessageView* KeyedBacklog::Front(const std::string& key) {
  auto it = fifo_.find(key);
  if (it == fifo_.end() || it->second.messages.empty()) return nullptr;
  return &it->second.messages.front();
}

void KeyedBacklog::Pop(Fifo& fifo) {
  if (spare_messages_.size() < kMaxSpareMessages) {
    fifo.messages.front() = MessageView{};  // the body and properties are freed now, the node kept
    spare_messages_.splice(spare_messages_.end(), fifo.messages, fifo.messages.begin());
  } else {
    fifo.messages.pop_front();
  }
  fifo.front_failures = 0;
  --size_;
}

MessageView* KeyedBacklog::PopFrontAndPeek(const std::string& key) {
  auto it = fifo_.find(key);
  if (it == fifo_.end() || it->second.messages.empty()) return nullptr;
  Pop(it->second);
  if (!it->second.messages.empty()) return &it->second.messages.front();
  // The idle key's entry is kept for the next key that wakes.
  auto node = fifo_.extract(it);
  if (spare_.size() < kMaxSpareFifos) spare_.push_back(std::move(node));
  return nullptr;
}

bool KeyedBacklog::PopFront(const std::string& key) { return PopFrontAndPeek(key) != nullptr; }

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
