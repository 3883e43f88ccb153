#include "broker/processors/client_processor.h"

#include <algorithm>

#include <fmt/format.h>

#include "broker/logger.h"
#include "broker/subscription_filter.h"
#include "common/clock.h"

namespace vela::broker {

ClientProcessor::ClientProcessor(const BrokerOptions& options, ResourceResolver& resolver, ClientManager& clients,
                                 filter::FilterCache& filters, retry::RetryService* retries)
    : options_(options), resolver_(resolver), clients_(clients), filters_(filters), retries_(retries) {}

void ClientProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(
      v1::HEARTBEAT, [this](net::RequestContext rc, net::Frame frame) { HandleHeartbeat(rc, std::move(frame)); });
  dispatcher.RegisterProcessor(v1::UNREGISTER_CLIENT, [this](net::RequestContext rc, net::Frame frame) {
    HandleUnregister(rc, std::move(frame));
  });
  dispatcher.RegisterProcessor(v1::GET_CONSUMER_LIST, [this](net::RequestContext rc, net::Frame frame) {
    HandleGetConsumerList(rc, std::move(frame));
  });
}

void ClientProcessor::HandleHeartbeat(net::RequestContext rc, net::Frame frame) {
  const auto& hb = frame.header.heartbeat_request();
  if (hb.client_id().empty()) {
    rc.ReplyError(Status::InvalidArgument("heartbeat needs a client id"));
    return;
  }
  // The SDK's version is listed by BROKER_STATUS: a short printable text, kept per client.
  constexpr size_t kMaxClientVersionBytes = 128;
  if (hb.client_version().size() > kMaxClientVersionBytes ||
      !std::all_of(hb.client_version().begin(), hb.client_version().end(),
                   [](char ch) { return ch >= 0x20 && ch < 0x7f; })) {
    rc.ReplyError(Status::InvalidArgument(fmt::format(
        "heartbeat client_version must be at most {} printable ASCII characters", kMaxClientVersionBytes)));
    return;
  }
  for (const auto& c : hb.consumers()) {
    auto g = resolver_.ResolveGroup(c.group(), rc.peer());
    if (!g.ok()) {
      rc.ReplyError(g.status());
      return;
    }
    // A subscription this broker cannot serve is refused here, at subscribe time, not at delivery.
    for (const auto& s : c.subscriptions()) {
      auto filter = SubscriptionFilter::Create(s.filter_type(), s.expression(), options_.enable_property_filter,
                                               filters_, nullptr);
      if (!filter.ok()) {
        BrokerLogger()->info("subscription of {} in group {} to {} refused: {}", hb.client_id(), c.group(), s.topic(),
                             filter.status().ToString());
        rc.ReplyError(filter.status());
        return;
      }
    }
  }
  // A clustering consumer retries failed messages through its group's retry topic, which it
  // subscribes to (docs/consumption.md). Not fatal for the heartbeat: a send-back tries again.
  if (retries_ != nullptr) {
    for (const auto& c : hb.consumers()) {
      if (c.model() != v1::CLUSTERING) continue;
      if (Status s = retries_->EnsureRetryTopic(c.group()); !s.ok()) {
        BrokerLogger()->warn("retry topic of group {} not created: {}", c.group(), s.ToString());
      }
    }
  }
  auto conn = rc.connection();
  if (!conn) return;
  clients_.Heartbeat(hb, conn, NowEpochMs());
  rc.Reply(Status::OK());
}

void ClientProcessor::HandleUnregister(net::RequestContext rc, net::Frame frame) {
  const auto& u = frame.header.unregister_client_request();
  clients_.Unregister(u.client_id(), u.producer_group(), u.consumer_group());
  rc.Reply(Status::OK());
}

void ClientProcessor::HandleGetConsumerList(net::RequestContext rc, net::Frame frame) {
  v1::Header resp;
  auto* list = resp.mutable_consumer_list_response();
  for (auto& id : clients_.ConsumerIds(frame.header.consumer_list_request().group())) list->add_client_ids(id);
  rc.Reply(Status::OK(), std::move(resp));
}

}  // namespace vela::broker
