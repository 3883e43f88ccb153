#include "metrics/broker_metrics.h"

#include "metrics/rpc_latency_recorder.h"

namespace vela::metrics {

namespace {
// vela_timer_lateness_seconds: the aim is a p99 of 10 ms, so the buckets are fine around it.
const std::vector<double> kTimerLatenessBucketsS = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25,
                                                    0.5,   1,     2.5,   5,    10,   30,   60};
}  // namespace

BrokerMetrics::BrokerMetrics(MetricsRegistry& registry)
    : messages_in(
          registry.Counters("rocketmq_messages_in_total", "Messages stored by the broker", {"topic", "message_type"})),
      throughput_in(registry.Counters("rocketmq_throughput_in_total", "Bytes of the messages stored by the broker",
                                      {"topic", "message_type"})),
      messages_out(
          registry.Counters("rocketmq_messages_out_total", "Messages sent to consumers", {"topic", "consumer_group"})),
      throughput_out(registry.Counters("rocketmq_throughput_out_total", "Bytes of the messages sent to consumers",
                                       {"topic", "consumer_group"})),
      rpc_latency(RpcLatencyFamily(registry)),
      messages_in_all(registry.SingleCounter("vela_messages_in_total", "Messages stored, every topic")),
      bytes_in_all(registry.SingleCounter("vela_bytes_in_total", "Bytes of the send request bodies stored")),
      messages_out_all(registry.SingleCounter("vela_messages_out_total", "Messages sent to consumers, every topic")),
      bytes_out_all(registry.SingleCounter("vela_bytes_out_total", "Bytes of the messages sent to consumers")),
      send_requests(registry.SingleCounter("vela_send_requests_total", "Send requests received")),
      send_errors(registry.SingleCounter("vela_send_errors_total", "Send requests answered with an error")),
      pull_requests(registry.SingleCounter("vela_pull_requests_total", "Pull requests received")),
      filter_conversion_failures(
          registry.SingleCounter("vela_filter_conversion_failures_total",
                                 "Subscriptions whose filter could not be turned into a store filter")),
      bad_requests(registry.SingleCounter("vela_bad_requests_total", "Requests refused as malformed")),
      corrupt_records_reported(
          registry.SingleCounter("vela_corrupt_records_reported_total", "Damaged records that pulls passed over")),
      timer_pending(
          registry.Gauges("vela_timer_pending", "Timer messages stored and not yet due nor recalled", {"topic"})),
      timer_delivered(
          registry.SingleCounter("vela_timer_delivered_total", "Timer messages delivered into their real topic")),
      timer_recalled(registry.SingleCounter("vela_timer_recalled_total", "Timer messages recalled before delivery")),
      timer_lateness(registry.SingleHistogram("vela_timer_lateness_seconds",
                                              "Delivery time of a timer message minus its due time, in seconds",
                                              kTimerLatenessBucketsS)),
      transaction_pending(registry.Gauges("vela_transaction_pending",
                                          "Half messages neither committed, rolled back nor discarded", {"topic"})),
      transaction_oldest_pending_age(registry.SingleGauge("vela_transaction_oldest_pending_age_seconds",
                                                          "Age of the oldest pending half message, in seconds")),
      transaction_committed(registry.Counters("vela_transaction_committed_total",
                                              "Transactional messages committed (published)", {"topic"})),
      transaction_rolled_back(
          registry.Counters("vela_transaction_rolled_back_total", "Transactional messages rolled back", {"topic"})),
      transaction_discarded(registry.Counters("vela_transaction_discarded_total",
                                              "Transactional messages discarded after transactionCheckMax check-backs",
                                              {"topic"})),
      transaction_checks(
          registry.SingleCounter("vela_transaction_checks_total", "Transaction check-backs sent to producers")),
      transaction_checks_without_producer(registry.SingleCounter(
          "vela_transaction_checks_without_producer_total",
          "Transaction check-backs due but not sent: no producer of the group connected")),
      send_backs(registry.Counters("vela_consumer_send_backs_total",
                                   "Messages consumers sent back after a failure, stored for a retry or as dead letters",
                                   {"consumer_group"})),
      dead_letters(registry.Counters("rocketmq_send_to_dlq_messages_total",
                                     "Messages moved to the dead-letter topic %DLQ%<group>", {"consumer_group"})),
      dead_letters_resent(registry.Counters("vela_dlq_resent_total",
                                            "Dead letters put back into the retry topic by an operator",
                                            {"consumer_group"})) {}

}  // namespace vela::metrics
