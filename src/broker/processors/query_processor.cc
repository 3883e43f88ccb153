#include "broker/processors/query_processor.h"

#include <fmt/format.h>

#include "common/message_id.h"
#include "common/message_record.h"

namespace vela::broker {

Result<std::string> LookUpMessageRecord(store::MessageStore& store, uint64_t store_host, std::string_view id) {
  auto found = store.LookupByMessageId(id);
  if (!found.ok()) {
    // An offset id is read here only when it names this broker: a unique id that happens to
    // parse as an offset id must not read a record at some unrelated offset.
    auto offset_id = ParseOffsetId(id);
    if (offset_id.ok() && offset_id->broker_addr == UnpackHost(store_host)) {
      found = store.ReadRecordAt(store::PhysicalOffset(offset_id->physical_offset));
    }
  }
  return found;
}

QueryProcessor::QueryProcessor(const BrokerOptions& options, const std::string& broker_addr,
                               store::MessageStore& store, asio::thread_pool& admin_pool)
    : options_(options), broker_addr_(broker_addr), store_(store), admin_pool_(admin_pool) {}

void QueryProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(
      v1::VIEW_MESSAGE, [this](net::RequestContext rc, net::Frame frame) { HandleViewMessage(rc, std::move(frame)); },
      &admin_pool_);
  dispatcher.RegisterProcessor(
      v1::QUERY_MESSAGE_BY_KEY,
      [this](net::RequestContext rc, net::Frame frame) { HandleQueryByKey(rc, std::move(frame)); }, &admin_pool_);
  dispatcher.RegisterProcessor(v1::GET_QUEUE_OFFSETS, [this](net::RequestContext rc, net::Frame frame) {
    HandleGetQueueOffsets(rc, std::move(frame));
  });
}

void QueryProcessor::HandleViewMessage(net::RequestContext rc, net::Frame frame) {
  const std::string& id = frame.header.view_message_request().msg_id();
  auto found = LookUpMessageRecord(store_, options_.store.store_host, id);
  if (!found.ok()) {
    rc.ReplyError(Status::NotFound(fmt::format("no message with id {} on broker {}", id, broker_addr_)));
    return;
  }
  rc.Reply(Status::OK(), {}, net::OutBody(std::move(found).value()));
}

void QueryProcessor::HandleQueryByKey(net::RequestContext rc, net::Frame frame) {
  const auto& q = frame.header.query_by_key_request();
  int max = q.max_messages() > 0 ? std::min(q.max_messages(), 1000) : 64;
  std::string body;
  for (auto& rec : store_.QueryByKey(q.topic(), q.key(), max)) body += rec;
  rc.Reply(Status::OK(), {}, net::OutBody(std::move(body)));
}

void QueryProcessor::HandleGetQueueOffsets(net::RequestContext rc, net::Frame frame) {
  const auto& q = frame.header.queue_offsets_request();
  auto qid = static_cast<uint32_t>(q.queue_id());
  v1::Header resp;
  auto* r = resp.mutable_queue_offsets_response();
  r->set_min_offset(store_.MinQueueOffset(q.topic(), qid).value());
  r->set_max_offset(store_.MaxQueueOffset(q.topic(), qid).value());
  r->set_last_store_timestamp_ms(store_.LastStoreTimestamp(q.topic(), qid));
  if (q.timestamp_ms() > 0) {
    r->set_offset_for_timestamp(store_.QueueOffsetForTimestamp(q.topic(), qid, q.timestamp_ms()).value());
  }
  rc.Reply(Status::OK(), std::move(resp));
}

}  // namespace vela::broker
