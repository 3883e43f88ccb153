#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <asio/thread_pool.hpp>

#include "broker/broker_options.h"
#include "net/dispatcher.h"
#include "store/message_store.h"

namespace vela::broker {

// The stored record of the message `id` on this broker: looked up as a unique id, then as an
// offset id when it names this broker (`store_host`, the store's packed address). An error
// (NotFound or the store's) otherwise. May read the disk. Thread-safe.
Result<std::string> LookUpMessageRecord(store::MessageStore& store, uint64_t store_host, std::string_view id);

// QueryProcessor serves the read-only message queries: VIEW_MESSAGE (by unique id, or by an offset
// id naming this broker) and QUERY_MESSAGE_BY_KEY on the admin pool (they may read the disk), and
// GET_QUEUE_OFFSETS on io threads. Thread-safe.
class QueryProcessor {
 public:
  // The references must outlive the processor.
  QueryProcessor(const BrokerOptions& options, const std::string& broker_addr, store::MessageStore& store,
                 asio::thread_pool& admin_pool);

  void Register(net::Dispatcher& dispatcher);
  void HandleViewMessage(net::RequestContext rc, net::Frame frame);
  void HandleQueryByKey(net::RequestContext rc, net::Frame frame);
  void HandleGetQueueOffsets(net::RequestContext rc, net::Frame frame);

 private:
  const BrokerOptions& options_;
  const std::string& broker_addr_;
  store::MessageStore& store_;
  asio::thread_pool& admin_pool_;
};

}  // namespace vela::broker
