#include "bench/vela_bench/bench_client.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "net/rpc_client.h"
#include "vela/v1/vela.pb.h"

namespace vela::bench {

client::StatusOr<std::unique_ptr<BenchProducer>> BenchProducer::Create(const ClientSettings& settings,
                                                                      AckHandler on_ack) {
  if (settings.transaction) {
    client::TransactionProducerBuilder builder;
    client::ClientConfig config;
    config.callback_threads = std::max<size_t>(settings.callback_threads, 1);  // the checker runs there
    builder.SetClientConfig(config);
    if (!settings.namesrv.empty()) builder.SetNamesrvAddr(settings.namesrv);
    // Every transaction is committed right after its half message: a check-back only finds one
    // whose commit was lost, which the bench never meant to keep.
    builder.SetGroup("vela_bench_tx_producer")
        .SetChecker([](const client::MessageView&) { return client::TransactionResolution::kRollback; })
        .SetSendTimeoutMs(settings.send_timeout_ms)
        .SetTopics({settings.topic});
    if (settings.trace) builder.EnableTrace();
    auto tx_producer = builder.Build();
    if (!tx_producer.ok()) return tx_producer.status();
    std::unique_ptr<BenchProducer> bench(new BenchProducer(settings.topic, nullptr, std::move(on_ack), 0));
    bench->tx_producer_ = std::move(tx_producer).value();
    return bench;
  }
  auto producer = BuildBenchSdkProducer(settings);
  if (!producer.ok()) return producer.status();
  return std::unique_ptr<BenchProducer>(
      new BenchProducer(settings.topic, std::move(producer).value(), std::move(on_ack), settings.sharding_keys));
}

client::StatusOr<std::unique_ptr<client::Producer>> BuildBenchSdkProducer(const ClientSettings& settings) {
  client::ProducerBuilder builder;
  client::ClientConfig config;
  config.callback_threads = settings.callback_threads;
  builder.SetClientConfig(config);
  if (!settings.namesrv.empty()) builder.SetNamesrvAddr(settings.namesrv);
  // The topic is declared so that its route and broker connection are ready before the first send
  // (peerbench's clients are connected before their clocks start, too).
  builder.SetGroup("vela_bench_producer").SetSendTimeoutMs(settings.send_timeout_ms).SetTopics({settings.topic});
  if (settings.trace) builder.EnableTrace();
  return builder.Build();
}

BenchProducer::BenchProducer(std::string topic, std::unique_ptr<client::Producer> producer, AckHandler on_ack,
                             int64_t sharding_keys)
    : topic_(std::move(topic)),
      sharding_keys_(sharding_keys),
      producer_(std::move(producer)),
      on_ack_(std::move(on_ack)) {}

BenchProducer::~BenchProducer() { Shutdown(); }

uint64_t BenchProducer::trace_dropped() const { return producer_ ? producer_->trace_dropped() : 0; }

void BenchProducer::Publish(std::string body, uint64_t token, int64_t deliver_at_ms) {
  if (tx_producer_) {
    tx_producer_->SendInTransactionAsync(
        client::Message(topic_, std::move(body)),
        [](const client::Message&, const client::SendReceipt&) { return client::TransactionResolution::kCommit; },
        [this, token](const client::Status& status, const client::SendReceipt& receipt) {
          Complete(token, status, receipt);
        });
    return;
  }
  client::Message message(topic_, std::move(body));
  message.deliver_at_ms = deliver_at_ms;
  if (sharding_keys_ > 0) {
    message.sharding_key = "key-" + std::to_string(token % static_cast<uint64_t>(sharding_keys_));
  }
  producer_->SendAsync(std::move(message),
                       [this, token](const client::Status& status, const client::SendReceipt& receipt) {
                         Complete(token, status, receipt);
                       });
}

void BenchProducer::PublishSync(const char* data, size_t len, uint64_t token) {
  if (tx_producer_) return Publish(std::string(data, len), token);
  client::Message message(topic_, std::string(data, len));
  auto receipt = producer_->Send(message);
  Complete(token, receipt.ok() ? client::Status::OK() : receipt.status(),
           receipt.ok() ? *receipt : client::SendReceipt{});
}

void BenchProducer::Complete(uint64_t token, const client::Status& status, const client::SendReceipt& receipt) {
  {
    std::lock_guard lock(mu_);
    if (status.ok()) {
      if (broker_addr_.empty()) broker_addr_ = receipt.broker_addr;
      if (!on_ack_) acked_.push_back(token);
    } else {
      if (first_error_.empty()) first_error_ = status.ToString();
      if (!on_ack_) failed_.push_back(token);
    }
  }
  if (on_ack_) {
    on_ack_(token, status.ok());
  } else {
    cv_.notify_one();
  }
}

size_t BenchProducer::PollAcks(std::vector<uint64_t>& acked, std::vector<uint64_t>& failed, int64_t timeout_us) {
  std::unique_lock lock(mu_);
  if (acked_.empty() && failed_.empty() && timeout_us > 0) {
    cv_.wait_for(lock, std::chrono::microseconds(timeout_us), [this] { return !acked_.empty() || !failed_.empty(); });
  }
  const size_t n = acked_.size() + failed_.size();
  acked.insert(acked.end(), acked_.begin(), acked_.end());
  failed.insert(failed.end(), failed_.begin(), failed_.end());
  acked_.clear();
  failed_.clear();
  return n;
}

std::string BenchProducer::broker_addr() {
  std::lock_guard lock(mu_);
  return broker_addr_;
}

std::string BenchProducer::first_error() {
  std::lock_guard lock(mu_);
  return first_error_;
}

void BenchProducer::Shutdown() {
  if (tx_producer_) tx_producer_->Shutdown();
  if (producer_) producer_->Shutdown();
}

client::StatusOr<std::unique_ptr<BenchConsumer>> BenchConsumer::Create(const ClientSettings& settings,
                                                                       BodyHandler handler) {
  client::PushConsumerOptions options;
  options.group = settings.group;
  options.consume_from = client::ConsumeFrom::kFirst;
  options.consume_threads = settings.consume_threads;
  options.pull_batch_size = settings.pull_batch_size;
  options.orderly = settings.orderly;
  if (!settings.broadcast_offset_dir.empty()) {
    options.model = client::MessageModel::kBroadcasting;
    options.offset_store_dir = settings.broadcast_offset_dir;
  }
  client::PushConsumerBuilder builder;
  if (!settings.namesrv.empty()) builder.SetNamesrvAddr(settings.namesrv);
  if (settings.trace) builder.EnableTrace();
  builder.SetOptions(options)
      .Subscribe(settings.topic, client::FilterExpression::All())
      .SetListener([handler = std::move(handler)](const client::MessageView& message) {
        handler(message.body);
        return client::ConsumeResult::kSuccess;
      });
  auto consumer = builder.Build();
  if (!consumer.ok()) return consumer.status();
  return std::unique_ptr<BenchConsumer>(new BenchConsumer(std::move(consumer).value()));
}

BenchConsumer::BenchConsumer(std::unique_ptr<client::PushConsumer> consumer) : consumer_(std::move(consumer)) {}

BenchConsumer::~BenchConsumer() { Shutdown(); }

void BenchConsumer::Shutdown() {
  if (consumer_) consumer_->Shutdown();
}

std::string QueryFlushDiskType(const std::string& broker_addr) {
  if (broker_addr.empty()) return "unknown (no broker acknowledged a message)";
  net::RpcClient rpc(net::RpcClientOptions{.thread_name = "vela-bench-rpc"});
  v1::Header header;
  header.set_code(v1::BROKER_STATUS);
  auto response = rpc.InvokeSync(broker_addr, std::move(header), net::OutBody(), 3000);
  rpc.Shutdown();
  if (!response.ok()) return "unknown (" + response.status().ToString() + ")";
  const auto& values = response->header.broker_status_response().values();
  auto it = values.find("flushDiskType");
  return it == values.end() ? std::string("unknown (not reported)") : it->second;
}

}  // namespace vela::bench
