#pragma once

#include <asio/thread_pool.hpp>

#include "broker/retry/retry_service.h"
#include "net/dispatcher.h"

namespace vela::broker::retry {

// RetryProcessor serves CONSUMER_SEND_BACK (on the io thread: a read of mapped memory and an
// append) and the dead-letter requests DEAD_LETTER_LIST and DEAD_LETTER_RESEND (on the admin
// pool: they walk the dead-letter queue and wait on the log and RocksDB) over the RetryService.
// Thread-safe; the references must outlive it.
class RetryProcessor {
 public:
  RetryProcessor(RetryService& retries, asio::thread_pool& admin_pool) : retries_(retries), admin_pool_(admin_pool) {}

  void Register(net::Dispatcher& dispatcher);
  void HandleSendBack(net::RequestContext rc, net::Frame frame);
  void HandleDeadLetterList(net::RequestContext rc, net::Frame frame);
  void HandleDeadLetterResend(net::RequestContext rc, net::Frame frame);

 private:
  RetryService& retries_;
  asio::thread_pool& admin_pool_;
};

}  // namespace vela::broker::retry
