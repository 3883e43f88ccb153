#include "bench/vela_bench/bench_client.h"

#include <chrono>
#include <utility>

#include "net/rpc_client.h"
#include "vela/v1/vela.pb.h"

namespace vela::bench {

client::StatusOr<std::unique_ptr<BenchProducer>> BenchProducer::Create(const ClientSettings& settings,
                                                                      AckHandler on_ack) {
  auto producer = BuildBenchSdkProducer(settings);
  if (!producer.ok()) return producer.status();
  return std::unique_ptr<BenchProducer>(
      new BenchProducer(settings.topic, std::move(producer).value(), std::move(on_ack)));
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
  return builder.Build();
}

BenchProducer::BenchProducer(std::string topic, std::unique_ptr<client::Producer> producer, AckHandler on_ack)
    : topic_(std::move(topic)), producer_(std::move(producer)), on_ack_(std::move(on_ack)) {}

BenchProducer::~BenchProducer() { Shutdown(); }

void BenchProducer::Publish(std::string body, uint64_t token, int64_t deliver_at_ms) {
  client::Message message(topic_, std::move(body));
  message.deliver_at_ms = deliver_at_ms;
  producer_->SendAsync(std::move(message),
                       [this, token](const client::Status& status, const client::SendReceipt& receipt) {
                         Complete(token, status, receipt);
                       });
}

void BenchProducer::PublishSync(const char* data, size_t len, uint64_t token) {
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
  if (producer_) producer_->Shutdown();
}

client::StatusOr<std::unique_ptr<BenchConsumer>> BenchConsumer::Create(const ClientSettings& settings,
                                                                       BodyHandler handler) {
  client::PushConsumerBuilder builder;
  if (!settings.namesrv.empty()) builder.SetNamesrvAddr(settings.namesrv);
  builder.SetGroup(settings.group)
      .Subscribe(settings.topic, client::FilterExpression::All())
      .SetConsumeFrom(client::ConsumeFrom::kFirst)
      .SetConsumeThreads(settings.consume_threads)
      .SetPullBatchSize(settings.pull_batch_size)
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
