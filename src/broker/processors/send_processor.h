#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "broker/admission.h"
#include "broker/broker_counters.h"
#include "broker/broker_options.h"
#include "broker/processors/resource_resolver.h"
#include "net/dispatcher.h"
#include "store/message_store.h"

namespace vela::broker {

// SendProcessor serves SEND_MESSAGE through the send pipeline of DESIGN.md §7.1:
// validate (topic, queue, each record's framing, properties, message id and topic) -> admit (the
// admission stages, in order; a stage may rewrite a record into one for another topic and queue)
// -> append (one MessageStore::Append for the whole request) -> complete (the reply, when the store
// says the records are durable). Each record's CRC is checked once: by Append, or here for a
// record a stage rewrote, before the rewrite is used. Records no stage rewrites are appended from the request's own bytes: no copy or
// allocation per record. The reply carries one compact receipt when the producer
// asked for it and no stage acted on any record; otherwise a full receipt per record, with where it
// landed and the stage's extras (due time, recall handle). Runs on io threads; thread-safe.
class SendProcessor {
 public:
  // The references and the stages must outlive the processor.
  SendProcessor(const BrokerOptions& options, const std::string& broker_addr, ResourceResolver& resolver,
                store::MessageStore& store, BrokerCounters& counters, std::vector<AdmissionStage*> stages = {});

  void Register(net::Dispatcher& dispatcher);
  void HandleSend(net::RequestContext rc, net::Frame frame);

 private:
  // Runs the stages on each validated record (in `records`, from `body`). Leaves `admissions`
  // empty when no stage acted on any record; otherwise one entry per record.
  Status Admit(const std::vector<std::string_view>& records, uint32_t queue_id,
               std::vector<Admission>* admissions) const;

  const BrokerOptions& options_;
  const std::string& broker_addr_;
  ResourceResolver& resolver_;
  store::MessageStore& store_;
  BrokerCounters& counters_;
  std::vector<AdmissionStage*> stages_;
  std::atomic<uint32_t> round_robin_{0};
};

}  // namespace vela::broker
