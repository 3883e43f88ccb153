#pragma once

#include <string_view>

#include "metrics/metrics_registry.h"

namespace vela::metrics {

// BrokerMetrics names the broker's metrics in one place: built once by the composition root from
// its registry, then handed (by reference) to the processors and services that feed it. It holds
// handles only, so feeding a label-less figure is one atomic add; a labelled family is looked up
// once per label set by the caller (`messages_in.WithLabels({topic, kMessageTypeNormal})`), and
// a caller on a hot path keeps the handle. RocketMQ 5's names and labels where RocketMQ has the
// figure (its cluster/node labels are left to the scraper's target labels); `vela_` otherwise.
// Every family is bounded by the registry's label-set limit. Thread-safe, as its handles.
struct BrokerMetrics {
  // Values of the `message_type` label (RocketMQ's).
  static constexpr std::string_view kMessageTypeNormal = "normal";
  static constexpr std::string_view kMessageTypeFifo = "fifo";
  static constexpr std::string_view kMessageTypeDelay = "delay";
  static constexpr std::string_view kMessageTypeTransaction = "transaction";

  explicit BrokerMetrics(MetricsRegistry& registry);

  // Messages stored, by topic and message_type: rocketmq_messages_in_total.
  CounterFamily& messages_in;
  // Bytes of those messages (record bodies as stored): rocketmq_throughput_in_total.
  CounterFamily& throughput_in;
  // Messages sent to consumers, by topic and consumer_group: rocketmq_messages_out_total.
  CounterFamily& messages_out;
  // Bytes of those messages: rocketmq_throughput_out_total.
  CounterFamily& throughput_out;
  // Request handling time in milliseconds (RocketMQ's unit), by request_code and response_code
  // (the codes' names, e.g. SEND_MESSAGE and OK): rocketmq_rpc_latency.
  HistogramFamily& rpc_latency;

  // Figures RocketMQ has no metric for.
  Counter messages_in_all;             // vela_messages_in_total: messages stored, every topic
  Counter bytes_in_all;                // vela_bytes_in_total: bytes of send request bodies stored
  Counter messages_out_all;            // vela_messages_out_total: messages sent to consumers
  Counter bytes_out_all;               // vela_bytes_out_total
  Counter send_requests;               // vela_send_requests_total
  Counter send_errors;                 // vela_send_errors_total: sends answered with an error
  Counter pull_requests;               // vela_pull_requests_total
  Counter filter_conversion_failures;  // vela_filter_conversion_failures_total
  Counter bad_requests;                // vela_bad_requests_total: requests refused as malformed
  Counter corrupt_records_reported;    // vela_corrupt_records_reported_total: damaged records pulls passed over

  // Timer messages.
  GaugeFamily& timer_pending;  // vela_timer_pending{topic}: timers stored and not yet due nor recalled
  Counter timer_delivered;     // vela_timer_delivered_total: timers re-put into their real topic
  Counter timer_recalled;      // vela_timer_recalled_total
  Histogram timer_lateness;    // vela_timer_lateness_seconds: delivery time minus due time

  // Transactional messages, by the real topic of each half message.
  GaugeFamily& transaction_pending;         // vela_transaction_pending{topic}: half messages pending
  Gauge transaction_oldest_pending_age;     // vela_transaction_oldest_pending_age_seconds
  CounterFamily& transaction_committed;     // vela_transaction_committed_total{topic}: messages published
  CounterFamily& transaction_rolled_back;   // vela_transaction_rolled_back_total{topic}
  CounterFamily& transaction_discarded;     // vela_transaction_discarded_total{topic}: after transactionCheckMax
  Counter transaction_checks;               // vela_transaction_checks_total: CHECK_TRANSACTION_STATE sent
  Counter transaction_checks_without_producer;  // vela_transaction_checks_without_producer_total

  // Consumer retries and dead letters, by consumer_group.
  CounterFamily& send_backs;           // vela_consumer_send_backs_total: failed messages stored again
  CounterFamily& dead_letters;         // rocketmq_send_to_dlq_messages_total: of those, to %DLQ%<group>
  CounterFamily& dead_letters_resent;  // vela_dlq_resent_total: dead letters put back into %RETRY%<group>
};

}  // namespace vela::metrics
