// vela-admin send, consume, message get, message query.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/message_codec.h"
#include "common/message_id.h"
#include "common/validation.h"
#include "tools/admin_context.h"
#include "vela/consumer.h"
#include "vela/producer.h"
#include "vela/transaction.h"

namespace vela::tools {

namespace {

int FailPublic(const client::Status& status) { return Fail(status.ToString()); }

struct SendArgs {
  std::string topic;
  std::string body;
  std::string body_file;
  std::string tag;
  std::vector<std::string> keys;
  std::vector<std::string> props;
  int64_t count = 1;
  std::string sharding_key;
  int64_t delay_ms = 0;
  int64_t deliver_at = 0;
  int32_t delay_level = 0;
  std::string transaction;
  std::string producer_group = "vela-admin-tx";
  int64_t tx_size = 1;
  bool trace = false;
};

// The message `send` sends, from its flags; "" or the reason it cannot be made.
std::string BuildMessage(const SendArgs& args, client::Message* out) {
  client::Message& message = *out;
  message.topic = args.topic;
  if (!args.body_file.empty()) {
    std::ifstream in(args.body_file, std::ios::binary);
    if (!in) return fmt::format("cannot read {}", args.body_file);
    std::ostringstream buf;
    buf << in.rdbuf();
    message.body = buf.str();
  } else {
    message.body = args.body.empty() ? std::string("hello from vela-admin") : args.body;
  }
  message.tag = args.tag;
  message.keys = args.keys;
  for (const auto& kv : args.props) {
    std::string k, v;
    if (!SplitKeyValue(kv, &k, &v)) return fmt::format("--prop wants key=value, got '{}'", kv);
    message.properties[k] = v;
  }
  message.sharding_key = args.sharding_key;
  message.delay_ms = args.delay_ms;
  message.deliver_at_ms = args.deliver_at;
  message.delay_level = args.delay_level;
  return "";
}

// Prints one acknowledged send (CLI.md: send --json).
void PrintReceipt(AdminContext& ctx, const client::SendReceipt& receipt) {
  const bool timer = !receipt.recall_handle.empty();
  if (ctx.json) {
    nlohmann::json doc = {{"id", receipt.msg_id},
                          {"offset_id", receipt.offset_id},
                          {"topic", receipt.topic},
                          {"queue", receipt.queue_id},
                          {"offset", receipt.queue_offset},
                          {"broker", receipt.broker_addr}};
    if (timer) {
      doc["deliver_at_ms"] = receipt.deliver_at_ms;
      doc["recall_handle"] = receipt.recall_handle;
    }
    if (!receipt.transaction_id.empty()) doc["transaction_id"] = receipt.transaction_id;
    PrintJson(doc);
    return;
  }
  std::string line = fmt::format("sent id={} offset_id={} topic={} queue={} offset={} broker={}", receipt.msg_id,
                                 receipt.offset_id, receipt.topic, receipt.queue_id, receipt.queue_offset,
                                 receipt.broker_addr);
  if (timer) {
    line += fmt::format(" deliver_at={} recall_handle={}", FormatTime(receipt.deliver_at_ms), receipt.recall_handle);
  }
  if (!receipt.transaction_id.empty()) line += fmt::format(" transaction_id={}", receipt.transaction_id);
  std::cout << line << std::endl;
}

// send --transaction: --count transactions of --tx-size messages each; every transaction is
// committed, rolled back, or (unknown) left to the broker's check-back once all its messages are
// acknowledged. This short-lived producer's checker answers unknown.
int SendTransactions(AdminContext& ctx, const SendArgs& args, const client::Message& message) {
  client::TransactionProducerBuilder builder;
  builder.SetNamesrvAddr(ctx.NamesrvAddrs())
      .SetGroup(args.producer_group)
      .SetChecker([](const client::MessageView&) { return client::TransactionResolution::kUnknown; })
      .SetTopics({args.topic});
  if (ctx.timeout_s > 0) builder.SetSendTimeoutMs(ctx.request_timeout_ms());
  if (args.trace) builder.EnableTrace();
  auto producer = builder.Build();
  if (!producer.ok()) return FailPublic(producer.status());
  int code = kExitOk;
  for (int64_t t = 0; t < args.count && code == kExitOk; ++t) {
    auto transaction = (*producer)->BeginTransaction();
    for (int64_t i = 0; i < args.tx_size; ++i) {
      auto receipt = (*producer)->Send(message, *transaction);
      if (!receipt.ok()) {
        code = Fail(fmt::format("transaction {} of {}, message {} of {}: {}{}", t + 1, args.count, i + 1, args.tx_size,
                                receipt.status().ToString(),
                                transaction->id().empty()
                                    ? std::string()
                                    : fmt::format(" (transaction {} is left to the broker's check-back)",
                                                  transaction->id())));
        break;
      }
      PrintReceipt(ctx, *receipt);
    }
    if (code != kExitOk || args.transaction == "unknown") {
      if (code == kExitOk && !ctx.json) {
        std::cout << fmt::format("left transaction {} to the broker's check-back", transaction->id()) << std::endl;
      }
      continue;
    }
    const bool commit = args.transaction == "commit";
    client::Status status = commit ? transaction->Commit() : transaction->Rollback();
    if (!status.ok()) {
      code = Fail(fmt::format("{} of transaction {}: {}", commit ? "commit" : "rollback", transaction->id(),
                              status.ToString()));
    } else if (!ctx.json) {
      std::cout << fmt::format("{} transaction {} ({} message(s))", commit ? "committed" : "rolled back",
                               transaction->id(), args.tx_size)
                << std::endl;
    }
  }
  (*producer)->Shutdown();
  return code;
}

int Send(AdminContext& ctx, const SendArgs& args) {
  client::Message message;
  if (std::string error = BuildMessage(args, &message); !error.empty()) return Fail(error);
  if (!args.transaction.empty()) return SendTransactions(ctx, args, message);

  client::ProducerBuilder builder;
  builder.SetNamesrvAddr(ctx.NamesrvAddrs()).SetGroup("vela-admin");
  if (ctx.timeout_s > 0) builder.SetSendTimeoutMs(ctx.request_timeout_ms());
  if (args.trace) builder.EnableTrace();
  auto producer = builder.Build();
  if (!producer.ok()) return FailPublic(producer.status());
  int code = kExitOk;
  for (int64_t i = 0; i < args.count; ++i) {
    auto receipt = (*producer)->Send(message);
    if (!receipt.ok()) {
      code = Fail(fmt::format("message {} of {}: {}", i + 1, args.count, receipt.status().ToString()));
      break;
    }
    PrintReceipt(ctx, *receipt);
  }
  (*producer)->Shutdown();
  return code;
}

struct ConsumeArgs {
  std::string topic;
  std::string group;
  std::string tag;
  std::string sql;
  int64_t count = 0;  // 0: no limit
  std::string from = "first";
  bool broadcast = false;
  bool orderly = false;
  int64_t fail_every = 0;  // > 0: fail every Nth delivery
  bool trace = false;
};

int Consume(AdminContext& ctx, const ConsumeArgs& args) {
  // Shared with the listener thread.
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int64_t received = 0;    // deliveries consumed successfully
    int64_t deliveries = 0;  // every delivery handed to the listener (for --fail-every)
    std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
  };
  auto state = std::make_shared<State>();
  const int64_t limit = args.count;
  const int64_t fail_every = args.fail_every;
  const bool json = ctx.json;
  client::PushConsumerOptions options;
  options.group = args.group;
  options.consume_threads = 1;  // messages print in the order they arrive on each queue
  options.consume_from = args.from == "last" ? client::ConsumeFrom::kLast : client::ConsumeFrom::kFirst;
  options.pull_batch_size = limit > 0 ? static_cast<int>(std::min<int64_t>(limit, 32)) : 32;
  options.commit_interval_ms = 1000;
  options.orderly = args.orderly;
  options.model = args.broadcast ? client::MessageModel::kBroadcasting : client::MessageModel::kClustering;
  client::FilterExpression filter = !args.sql.empty() ? client::FilterExpression::Sql92(args.sql)
                                    : !args.tag.empty() ? client::FilterExpression::Tag(args.tag)
                                                        : client::FilterExpression::All();
  client::ClientConfig config;
  config.namesrv_addr = ctx.NamesrvAddrs();
  config.request_timeout_ms = 5000;
  config.instance_name = "vela-admin-consume";
  client::PushConsumerBuilder consumer_builder;
  if (args.trace) consumer_builder.EnableTrace();
  auto consumer = consumer_builder
                      .SetClientConfig(config)
                      .SetOptions(options)
                      .Subscribe(args.topic, filter)
                      .SetListener([state, limit, fail_every, json](const client::MessageView& m) {
                        std::lock_guard lock(state->mu);
                        if (limit > 0 && state->received >= limit) {
                          return client::ConsumeResult::kLeave;  // not ours: leave it uncommitted
                        }
                        ++state->deliveries;
                        const bool fail = fail_every > 0 && state->deliveries % fail_every == 0;
                        if (!fail) ++state->received;
                        state->last_activity = std::chrono::steady_clock::now();
                        if (json) {
                          auto j = MessageJson(m);
                          j["result"] = fail ? "failed" : "ok";
                          PrintJson(j);
                        } else {
                          std::cout << MessageLine(m) << fmt::format(" reconsume={} result={}", m.reconsume_times,
                                                                     fail ? "failed" : "ok")
                                    << std::endl;
                        }
                        state->cv.notify_all();
                        return fail ? client::ConsumeResult::kFailure : client::ConsumeResult::kSuccess;
                      })
                      .Build();
  if (!consumer.ok()) return FailPublic(consumer.status());
  const auto idle = std::chrono::milliseconds(ctx.timeout_s > 0 ? static_cast<int64_t>(ctx.timeout_s * 1000) : 10000);
  {
    std::unique_lock lock(state->mu);
    state->last_activity = std::chrono::steady_clock::now();
    while (!(limit > 0 && state->received >= limit)) {
      auto deadline = state->last_activity + idle;
      if (std::chrono::steady_clock::now() >= deadline) break;
      state->cv.wait_until(lock, deadline);
    }
  }
  (*consumer)->Shutdown();  // commits what was consumed
  std::lock_guard lock(state->mu);
  if (!json) std::cerr << fmt::format("consumed {} message(s)", state->received) << std::endl;
  return kExitOk;
}

void PrintMessages(AdminContext& ctx, const std::vector<client::MessageView>& messages, bool single) {
  if (ctx.json) {
    if (single && !messages.empty()) {
      auto j = MessageJson(messages.front());
      j["offset_id"] = messages.front().offset_id;
      j["broker"] = messages.front().broker_addr;
      j["born_host"] = messages.front().born_host;
      PrintJson(j);
      return;
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : messages) {
      auto j = MessageJson(m);
      j["offset_id"] = m.offset_id;
      j["broker"] = m.broker_addr;
      list.push_back(std::move(j));
    }
    PrintJson({{"messages", list}});
    return;
  }
  for (const auto& m : messages) {
    std::cout << MessageLine(m) << " offset_id=" << m.offset_id << " broker=" << m.broker_addr << "\n";
  }
  std::cout.flush();
}

// Unique ids and offset ids are both 32 hex digits (common/message_id.h). Every broker of the
// cluster is asked first: each looks the id up as a unique id, then as an offset id naming itself.
// Only an id with the offset-id shape that names a broker not asked yet is sent to that address.
// The error says what was tried.
int MessageGet(AdminContext& ctx, const std::string& id) {
  if (vela::Status valid = ValidateMessageId(id); !valid.ok()) return Fail(valid);
  std::vector<std::string> asked;
  vela::Status failure;  // the last error other than "not found"
  auto ask = [&](const std::string& addr) -> bool {
    asked.push_back(addr);
    v1::Header header;
    header.set_code(v1::VIEW_MESSAGE);
    header.mutable_view_message_request()->set_msg_id(id);
    auto response = ctx.Invoke(addr, std::move(header));
    if (!response.ok()) {
      if (response.status().code() != vela::StatusCode::kNotFound) {
        const bool named = response.status().message().find(addr) != std::string_view::npos;
        failure = named ? response.status() : response.status().WithContext(addr);
      }
      return false;
    }
    auto messages = client::DecodeMessages(response->body, addr);
    if (!messages.ok()) {
      failure = messages.status().WithContext(addr);
      return false;
    }
    if (messages->empty()) return false;
    PrintMessages(ctx, *messages, /*single=*/true);
    return true;
  };
  auto known = ctx.BrokerAddrs();
  if (known.ok()) {
    for (const auto& addr : *known) {
      if (ask(addr)) return kExitOk;
    }
  }
  std::string tried;
  if (!known.ok()) {
    tried = fmt::format("the brokers could not be listed ({})", known.status().ToString());
  } else if (known->empty()) {
    tried = "the cluster lists no broker to look it up on as a unique id";
  } else {
    tried = fmt::format("looked up as a unique id on the cluster's brokers ({})", fmt::join(*known, ", "));
  }
  auto offset_id = ParseOffsetId(id);
  if (offset_id.ok()) {
    const bool known_broker = std::find(asked.begin(), asked.end(), offset_id->broker_addr) != asked.end();
    if (!known_broker && ask(offset_id->broker_addr)) return kExitOk;
    tried += fmt::format("; read as an offset id it names broker {} at physical offset {}{}", offset_id->broker_addr,
                         offset_id->physical_offset, known_broker ? "" : ", asked directly");
  } else {
    tried += fmt::format("; {}", offset_id.status().message());
  }
  if (!failure.ok()) tried += fmt::format("; last error: {}", failure.ToString());
  return Fail(fmt::format("no message with id {}: {}", id, tried));
}

int MessageQuery(AdminContext& ctx, const std::string& topic, const std::string& key) {
  auto route = ctx.Route(topic);
  if (!route.ok()) return Fail(route.status());
  std::vector<client::MessageView> found;
  int code = kExitOk;
  for (const auto& [name, addr] : route->broker_addrs) {
    v1::Header header;
    header.set_code(v1::QUERY_MESSAGE_BY_KEY);
    auto* q = header.mutable_query_by_key_request();
    q->set_topic(topic);
    q->set_key(key);
    q->set_max_messages(64);
    auto response = ctx.Invoke(addr, std::move(header));
    if (!response.ok()) {
      if (response.status().code() != vela::StatusCode::kNotFound) code = Fail(response.status());
      continue;
    }
    auto messages = client::DecodeMessages(response->body, addr);
    if (!messages.ok()) {
      code = Fail(messages.status());
      continue;
    }
    for (auto& m : *messages) found.push_back(std::move(m));
  }
  PrintMessages(ctx, found, /*single=*/false);
  return code;
}

int MessageRecall(AdminContext& ctx, const std::string& topic, const std::string& handle) {
  client::ProducerBuilder builder;
  builder.SetNamesrvAddr(ctx.NamesrvAddrs()).SetGroup("vela-admin");
  auto producer = builder.Build();
  if (!producer.ok()) return FailPublic(producer.status());
  auto outcome = (*producer)->Recall(topic, handle);
  (*producer)->Shutdown();
  if (!outcome.ok()) return FailPublic(outcome.status());
  const char* text = *outcome == client::RecallOutcome::kRecalled          ? "recalled"
                     : *outcome == client::RecallOutcome::kAlreadyRecalled ? "already_recalled"
                                                                           : "already_delivered";
  if (ctx.json) {
    PrintJson({{"topic", topic}, {"outcome", text}});
  } else if (*outcome == client::RecallOutcome::kAlreadyDelivered) {
    std::cerr << "the message was already delivered: too late to recall it" << std::endl;
  } else {
    std::cout << (*outcome == client::RecallOutcome::kRecalled ? "recalled: the message will never be delivered"
                                                               : "already recalled: the message will never be delivered")
              << std::endl;
  }
  return *outcome == client::RecallOutcome::kAlreadyDelivered ? kExitFailed : kExitOk;
}

int TimerStatus(AdminContext& ctx, const std::string& broker) {
  auto addrs = ctx.TargetBrokers(broker, "");
  if (!addrs.ok()) return Fail(addrs.status());
  v1::Header request;
  request.set_code(v1::TIMER_STATUS);
  v1::TimerStatusResponse sum;
  const int code = ctx.ForEachBroker(*addrs, request, [&](const std::string&, const net::Frame& response) {
    const auto& s = response.header.timer_status_response();
    sum.set_pending(sum.pending() + s.pending());
    sum.set_delivered(sum.delivered() + s.delivered());
    sum.set_recalled(sum.recalled() + s.recalled());
    if (s.next_due_ms() > 0 && (sum.next_due_ms() == 0 || s.next_due_ms() < sum.next_due_ms())) {
      sum.set_next_due_ms(s.next_due_ms());
    }
    // Percentiles do not add up: the worst broker's are shown.
    sum.set_lateness_p50_us(std::max(sum.lateness_p50_us(), s.lateness_p50_us()));
    sum.set_lateness_p99_us(std::max(sum.lateness_p99_us(), s.lateness_p99_us()));
    sum.set_lateness_max_us(std::max(sum.lateness_max_us(), s.lateness_max_us()));
  });
  if (ctx.json) {
    PrintJson({{"pending", sum.pending()},
               {"delivered", sum.delivered()},
               {"recalled", sum.recalled()},
               {"next_due_ms", sum.next_due_ms()},
               {"lateness_us",
                {{"p50", sum.lateness_p50_us()}, {"p99", sum.lateness_p99_us()}, {"max", sum.lateness_max_us()}}}});
  } else {
    Table table({"PENDING", "DELIVERED", "RECALLED", "NEXT DUE", "LATENESS P50/P99/MAX (us)"});
    table.AddRow({std::to_string(sum.pending()), std::to_string(sum.delivered()), std::to_string(sum.recalled()),
                  FormatTime(sum.next_due_ms()),
                  fmt::format("{}/{}/{}", sum.lateness_p50_us(), sum.lateness_p99_us(), sum.lateness_max_us())});
    table.Print();
  }
  return code;
}

}  // namespace

void AddMessageCommands(CLI::App& app, AdminContext& ctx) {
  auto send_args = std::make_shared<SendArgs>();
  auto* send = app.add_subcommand("send", "send messages");
  send->add_option("--topic", send_args->topic, "topic")->required();
  auto* body = send->add_option("--body", send_args->body, "message body text");
  send->add_option("--body-file", send_args->body_file, "read the body from this file")->excludes(body);
  send->add_option("--tag", send_args->tag, "message tag");
  send->add_option("--key", send_args->keys, "message key (repeatable)");
  send->add_option("--prop", send_args->props, "user property k=v (repeatable)");
  send->add_option("--count", send_args->count,
                   "send the message this many times (with --transaction: this many transactions)")
      ->check(CLI::PositiveNumber);
  send->add_option("--sharding-key", send_args->sharding_key, "sharding key: one queue per key");
  auto* delay = send->add_option("--delay-ms", send_args->delay_ms, "deliver after this delay (timer message)")
                    ->check(CLI::NonNegativeNumber);
  auto* deliver_at = send->add_option("--deliver-at", send_args->deliver_at, "deliver at this epoch ms (timer message)")
                         ->check(CLI::NonNegativeNumber)
                         ->excludes(delay);
  send->add_option("--delay-level", send_args->delay_level, "RocketMQ delay level (1 = 1 s ... 18 = 2 h)")
      ->check(CLI::PositiveNumber)
      ->excludes(delay)
      ->excludes(deliver_at);
  auto* transaction =
      send->add_option("--transaction", send_args->transaction,
                       "send transactional messages, then commit|rollback|unknown (unknown: left to the "
                       "broker's check-back); --count transactions of --tx-size messages each")
          ->check(CLI::IsMember({"commit", "rollback", "unknown"}));
  send->add_option("--producer-group", send_args->producer_group,
                   "with --transaction: the producer group (default vela-admin-tx)")
      ->needs(transaction);
  send->add_option("--tx-size", send_args->tx_size,
                   "with --transaction: messages per transaction, 1..64 (default 1); --count counts transactions")
      ->needs(transaction)
      ->check(CLI::Range(1, 64));
  send->add_flag("--trace", send_args->trace,
                 "record the message trace (send and store events; vela-admin message trace ID)");
  send->callback([&ctx, send_args] { ctx.action = [&ctx, send_args] { return Send(ctx, *send_args); }; });

  auto consume_args = std::make_shared<ConsumeArgs>();
  auto* consume = app.add_subcommand("consume", "consume messages in a group and commit them");
  consume->add_option("--topic", consume_args->topic, "topic")->required();
  consume->add_option("--group", consume_args->group, "consumer group")->required();
  auto* tag = consume->add_option("--tag", consume_args->tag, "tag expression (default *)");
  consume->add_option("--sql", consume_args->sql, "SQL92 expression on properties")->excludes(tag);
  consume->add_option("--count", consume_args->count, "stop after this many messages")->check(CLI::PositiveNumber);
  consume->add_option("--from", consume_args->from, "where a group without offsets starts: first|last (default first)")
      ->check(CLI::IsMember({"first", "last"}));
  consume->add_flag("--broadcast", consume_args->broadcast,
                    "broadcast consumption: receive every message, offsets in a local file ($HOME/.vela/offsets)");
  consume->add_flag("--orderly", consume_args->orderly,
                    "orderly consumption: broker queue locks, in order per sharding key");
  consume->add_option("--fail-every", consume_args->fail_every,
                      "fail every Nth delivery (1 = every one), to exercise retries and dead letters")
      ->check(CLI::PositiveNumber);
  consume->add_flag("--trace", consume_args->trace,
                    "record a consume event per delivery in the message trace (vela-admin message trace ID)");
  consume->callback([&ctx, consume_args] { ctx.action = [&ctx, consume_args] { return Consume(ctx, *consume_args); }; });

  auto* message = app.add_subcommand("message", "find stored messages");
  auto id = std::make_shared<std::string>();
  auto* get = message->add_subcommand("get", "a message by unique id or offset id");
  get->add_option("ID", *id, "message id")->required();
  get->callback([&ctx, id] { ctx.action = [&ctx, id] { return MessageGet(ctx, *id); }; });

  auto trace_id = std::make_shared<std::string>();
  auto* trace = message->add_subcommand("trace", "the timeline of a traced message: send, store, consumes, ...");
  trace->add_option("ID", *trace_id, "the message's unique id (as send prints it)")->required();
  trace->callback([&ctx, trace_id] { ctx.action = [&ctx, trace_id] { return MessageTrace(ctx, *trace_id); }; });

  auto topic = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto* query = message->add_subcommand("query", "messages of a topic by key");
  query->add_option("--topic", *topic, "topic")->required();
  query->add_option("--key", *key, "message key")->required();
  query->callback([&ctx, topic, key] { ctx.action = [&ctx, topic, key] { return MessageQuery(ctx, *topic, *key); }; });

  auto recall_topic = std::make_shared<std::string>();
  auto handle = std::make_shared<std::string>();
  auto* recall = message->add_subcommand("recall", "cancel a pending timer message by its recall handle");
  recall->add_option("--topic", *recall_topic, "the topic it was sent to")->required();
  recall->add_option("--handle", *handle, "the recall_handle of its send receipt")->required();
  recall->callback([&ctx, recall_topic, handle] {
    ctx.action = [&ctx, recall_topic, handle] { return MessageRecall(ctx, *recall_topic, *handle); };
  });

  auto* timer = app.add_subcommand("timer", "timer messages");
  auto broker = std::make_shared<std::string>();
  auto* status = timer->add_subcommand("status", "pending, delivered and recalled timers, and lateness");
  status->add_option("--broker", *broker, "one broker (default: every broker)");
  status->callback([&ctx, broker] { ctx.action = [&ctx, broker] { return TimerStatus(ctx, *broker); }; });
}

}  // namespace vela::tools
