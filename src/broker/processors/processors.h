#pragma once

#include "broker/broker_context.h"
#include "net/dispatcher.h"

// The broker's request processors, one file per area (STYLE.md §3). Each Register function adds
// its codes to the dispatcher; processors hold only a reference to the BrokerContext.
namespace vela::broker {

// SEND_MESSAGE.
void RegisterSendProcessor(BrokerContext& ctx, net::Dispatcher& dispatcher);
// PULL_MESSAGE, with long polling through PullHoldService. Returns the retry function the hold
// service calls.
PullHoldService::Retry RegisterPullProcessor(BrokerContext& ctx, net::Dispatcher& dispatcher);
// HEARTBEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST, QUERY/UPDATE_CONSUMER_OFFSET.
void RegisterClientProcessors(BrokerContext& ctx, net::Dispatcher& dispatcher);
// VIEW_MESSAGE, QUERY_MESSAGE_BY_KEY, GET_QUEUE_OFFSETS.
void RegisterQueryProcessors(BrokerContext& ctx, net::Dispatcher& dispatcher);
// Topic, group, offset-reset and status administration.
void RegisterAdminProcessors(BrokerContext& ctx, net::Dispatcher& dispatcher);

// Shared by processors: the topic if it exists (auto-created when the broker allows it and the
// name is a user topic name), or NotFound with SubCode::kTopicNotFound. A write to a reserved
// (system) topic is PermissionDenied, whether it exists or not.
Result<store::TopicConfig> ResolveTopic(BrokerContext& ctx, const std::string& topic, bool for_write);
// The group's config, auto-created (and logged, with `peer`) when autoCreateSubscriptionGroup is on
// and the broker holds fewer than autoCreateSubscriptionGroupLimit groups; else NotFound with
// SubCode::kGroupNotFound, or ResourceExhausted at the limit.
Result<store::GroupConfig> ResolveGroup(BrokerContext& ctx, const std::string& group, std::string_view peer);

}  // namespace vela::broker
