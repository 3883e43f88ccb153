#include "client/transaction_producer_impl.h"

#include <charconv>
#include <chrono>
#include <exception>
#include <future>

#include <fmt/format.h>

#include "client/client_logging.h"
#include "client/logger.h"
#include "client/message_codec.h"
#include "client/status_convert.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "common/validation.h"
#include "net/wire_status.h"

namespace vela::client {

// ---- helpers ----

Message StampTransactional(Message message, const std::string& producer_group, const std::string& transaction_id) {
  Message stamped = std::move(message);
  stamped.properties[std::string(prop::kTransactionPrepared)] = "true";
  stamped.properties[std::string(prop::kProducerGroup)] = producer_group;
  stamped.properties[std::string(prop::kTransactionId)] = transaction_id;
  return stamped;
}

vela::Status ValidateTransactional(const Message& message, size_t max_body_bytes) {
  VELA_RETURN_IF_ERROR(ValidateMessage(message, max_body_bytes));
  if (message.delay_ms > 0 || message.deliver_at_ms > 0 || message.delay_level > 0) {
    return vela::Status::InvalidArgument("a transactional message cannot be a timer message (delay, delivery time "
                                         "or delay level)");
  }
  return vela::Status::OK();
}

Result<MessageView> CheckedMessageView(const v1::CheckTransactionRequest& request, std::string_view body,
                                       const std::string& broker_addr) {
  VELA_ASSIGN_OR_RETURN(auto views, DecodeMessages(body, broker_addr, 1));
  if (views.empty()) {
    return vela::Status::Corruption(
        fmt::format("check of transaction {} from {} carries no half record", request.transaction_id(), broker_addr));
  }
  MessageView view = std::move(views.front());
  auto real_topic = view.properties.find(std::string(prop::kRealTopic));
  if (real_topic != view.properties.end() && !real_topic->second.empty()) {
    view.topic = real_topic->second;
  } else if (!request.topic().empty()) {
    view.topic = request.topic();
  }
  auto real_queue = view.properties.find(std::string(prop::kRealQueueId));
  if (real_queue != view.properties.end()) {
    int32_t queue = -1;
    const std::string& text = real_queue->second;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), queue);
    if (ec == std::errc() && end == text.data() + text.size()) view.queue_id = queue;
  }
  view.properties.emplace(std::string(prop::kTransactionId), request.transaction_id());
  return view;
}

v1::TransactionResolution ToWire(TransactionResolution resolution) {
  switch (resolution) {
    case TransactionResolution::kCommit: return v1::TX_COMMIT;
    case TransactionResolution::kRollback: return v1::TX_ROLLBACK;
    case TransactionResolution::kUnknown: break;
  }
  return v1::TX_UNKNOWN;
}

v1::EndTransactionRequest MakeEndTransactionRequest(const std::string& producer_group, const std::string& transaction_id,
                                                    const std::vector<int64_t>& half_offsets,
                                                    TransactionResolution resolution, bool from_check,
                                                    bool by_operator) {
  v1::EndTransactionRequest request;
  request.set_producer_group(producer_group);
  request.set_transaction_id(transaction_id);
  for (int64_t offset : half_offsets) request.add_half_physical_offsets(offset);
  request.set_resolution(ToWire(resolution));
  request.set_from_check(from_check);
  request.set_by_operator(by_operator);
  return request;
}

v1::Header MakeEndTransaction(const std::string& producer_group, const std::string& transaction_id,
                              const std::vector<int64_t>& half_offsets, TransactionResolution resolution,
                              bool from_check, bool by_operator) {
  v1::Header header;
  header.set_code(v1::END_TRANSACTION);
  *header.mutable_end_transaction_request() =
      MakeEndTransactionRequest(producer_group, transaction_id, half_offsets, resolution, from_check, by_operator);
  return header;
}

vela::Status EndTransactionOutcome(const Result<net::Frame>& response, bool commit, const std::string& transaction_id,
                                   const std::string& addr) {
  Result<v1::EndTransactionResponse> answer = vela::Status::Internal("unset");
  if (response.ok()) {
    answer = response->header.end_transaction_response();
  } else {
    answer = response.status();
  }
  return EndTransactionOutcome(answer, commit, transaction_id, addr);
}

vela::Status EndTransactionOutcome(const Result<v1::EndTransactionResponse>& response, bool commit,
                                   const std::string& transaction_id, const std::string& addr) {
  if (!response.ok()) {
    return response.status().WithContext(
        fmt::format("{} of transaction {} on {}", commit ? "commit" : "rollback", transaction_id, addr));
  }
  const auto outcome = response->outcome();
  switch (outcome) {
    case v1::TX_END_COMMITTED:
    case v1::TX_END_ALREADY_COMMITTED:
      if (commit) return vela::Status::OK();
      return vela::Status::FailedPrecondition(
          fmt::format("transaction {} was already committed; this rollback changes nothing", transaction_id));
    case v1::TX_END_ROLLED_BACK:
    case v1::TX_END_ALREADY_ROLLED_BACK:
      if (!commit) return vela::Status::OK();
      return vela::Status::FailedPrecondition(
          fmt::format("transaction {} was already rolled back; this commit changes nothing", transaction_id));
    default:
      return vela::Status::Internal(fmt::format("broker {} answered the {} of transaction {} with outcome {}", addr,
                                                commit ? "commit" : "rollback", transaction_id,
                                                static_cast<int>(outcome)));
  }
}

namespace {
// Runs the local transaction; an exception counts as kUnknown (left to the check-back).
TransactionResolution RunExecutor(const LocalTransactionExecutor& executor, const Message& message,
                                  const SendReceipt& receipt) {
  try {
    return executor(message, receipt);
  } catch (const std::exception& e) {
    ClientLogger()->warn("local transaction executor of transaction {} threw ({}): left to the check-back",
                         receipt.transaction_id, e.what());
  } catch (...) {
    ClientLogger()->warn("local transaction executor of transaction {} threw: left to the check-back",
                         receipt.transaction_id);
  }
  return TransactionResolution::kUnknown;
}
// END_TRANSACTIONs in one END_TRANSACTION_BATCH at most (the broker takes up to 1,024).
constexpr size_t kMaxEndsPerRequest = 512;
// END_TRANSACTION requests in flight to one broker at most (the rest wait and leave together).
constexpr int kEndsInFlight = 1;
}  // namespace

// ---- TransactionState ----

vela::Status TransactionState::CheckCanSendLocked() const {
  switch (phase) {
    case Phase::kOpen: break;
    case Phase::kResolving:
      return vela::Status::FailedPrecondition(fmt::format(
          "transaction {} is being resolved (an earlier commit or rollback failed): no more messages", id));
    case Phase::kCommitted:
      return vela::Status::FailedPrecondition(fmt::format("transaction {} is committed: no more messages", id));
    case Phase::kRolledBack:
      return vela::Status::FailedPrecondition(fmt::format("transaction {} is rolled back: no more messages", id));
  }
  if (receipts.size() >= kMaxMessagesPerTransaction) {
    return vela::Status::InvalidArgument(fmt::format("transaction {} already holds {} messages, the most one "
                                                     "transaction may hold",
                                                     id, kMaxMessagesPerTransaction));
  }
  return vela::Status::OK();
}

vela::Status TransactionState::CheckCanResolveLocked(bool commit) const {
  const char* verb = commit ? "commit" : "roll back";
  switch (phase) {
    case Phase::kCommitted:
      return vela::Status::FailedPrecondition(
          fmt::format("transaction {} was already committed: cannot {} it again", id, verb));
    case Phase::kRolledBack:
      return vela::Status::FailedPrecondition(
          fmt::format("transaction {} was already rolled back: cannot {} it again", id, verb));
    case Phase::kOpen:
    case Phase::kResolving: break;
  }
  if (receipts.empty()) {
    return vela::Status::FailedPrecondition(fmt::format("the transaction holds no message: nothing to {}", verb));
  }
  return vela::Status::OK();
}

void TransactionState::AddLocked(SendReceipt receipt, const ProducerImpl::Placement& placed) {
  if (id.empty()) {
    id = receipt.msg_id;
    broker.broker_name = placed.broker_name;
    broker.addr = placed.addr;
  }
  receipt.transaction_id = id;
  half_offsets.push_back(placed.physical_offset);
  receipts.push_back(std::move(receipt));
}

// ---- TransactionProducerImpl ----

TransactionProducerImpl::TransactionProducerImpl(TransactionProducerSettings settings)
    : settings_(std::move(settings)) {}

TransactionProducerImpl::~TransactionProducerImpl() { Shutdown(); }

vela::Status TransactionProducerImpl::Start() {
  ProducerSettings producer_settings = settings_.producer;
  producer_settings.heartbeat_every_broker = true;
  // The processor runs on an io thread and only hands the check over; `this` outlives the client
  // instance, whose threads Shutdown joins.
  producer_settings.register_fn = [this](net::Dispatcher& dispatcher) {
    dispatcher.RegisterProcessor(v1::CHECK_TRANSACTION_STATE, [this](net::RequestContext context, net::Frame frame) {
      OnCheck(std::move(context), std::move(frame));
    });
  };
  producer_ = std::make_unique<ProducerImpl>(std::move(producer_settings));
  running_.store(true, std::memory_order_release);
  auto status = producer_->Start();
  if (!status.ok()) running_.store(false, std::memory_order_release);
  return status;
}

std::unique_ptr<Transaction> TransactionProducerImpl::Begin() {
  auto state = std::make_shared<TransactionState>(weak_from_this(), this);
  return std::unique_ptr<Transaction>(new Transaction(std::move(state)));
}

Result<SendReceipt> TransactionProducerImpl::Send(const Message& message, TransactionState& state) {
  if (state.owner != this) {
    return vela::Status::InvalidArgument("the transaction belongs to another TransactionProducer");
  }
  if (!running_.load(std::memory_order_acquire)) {
    return vela::Status::FailedPrecondition("transaction producer is shut down");
  }
  VELA_RETURN_IF_ERROR(ValidateTransactional(message, settings_.producer.max_message_bytes));
  std::lock_guard send_lock(state.send_mu);
  std::string transaction_id;
  ProducerImpl::Placement pin;
  {
    std::lock_guard lock(state.mu);
    VELA_RETURN_IF_ERROR(state.CheckCanSendLocked());
    transaction_id = state.id;
    pin = state.broker;
  }
  const bool first = transaction_id.empty();
  const std::string msg_id = NewMessageId();
  if (first) transaction_id = msg_id;
  ProducerImpl::Placement placed;
  VELA_ASSIGN_OR_RETURN(SendReceipt receipt,
                        producer_->SendTransactional(StampTransactional(message, group(), transaction_id), msg_id,
                                                     first ? nullptr : &pin, &placed));
  std::lock_guard lock(state.mu);
  state.AddLocked(std::move(receipt), placed);
  return state.receipts.back();
}

vela::Status TransactionProducerImpl::Resolve(TransactionState& state, bool commit) {
  std::lock_guard send_lock(state.send_mu);
  std::string id;
  std::string addr;
  std::vector<int64_t> offsets;
  {
    std::lock_guard lock(state.mu);
    VELA_RETURN_IF_ERROR(state.CheckCanResolveLocked(commit));
    id = state.id;
    addr = state.broker.addr;
    offsets = state.half_offsets;
  }
  if (!running_.load(std::memory_order_acquire)) {
    return vela::Status::FailedPrecondition(
        fmt::format("transaction producer is shut down: transaction {} is left to the broker's check-back", id));
  }
  // Through the broker's END_TRANSACTION lane, so that commits of many threads travel together.
  auto answered = std::make_shared<std::promise<std::pair<vela::Status, bool>>>();
  auto answer = answered->get_future();
  EndJob job;
  job.request = MakeEndTransactionRequest(group(), id, offsets,
                                          commit ? TransactionResolution::kCommit : TransactionResolution::kRollback,
                                          /*from_check=*/false, /*by_operator=*/false);
  job.commit = commit;
  job.done = [answered](const vela::Status& status, bool decided) { answered->set_value({status, decided}); };
  EndAsync(addr, std::move(job));
  // The request times out after the send timeout; the margin covers a lane that waits for an
  // earlier request, and a shutdown that stops the callback threads before the answer runs.
  std::pair<vela::Status, bool> outcome{
      vela::Status::DeadlineExceeded(fmt::format("no answer to the {} of transaction {} from {}",
                                                 commit ? "commit" : "rollback", id, addr)),
      false};
  if (answer.wait_for(std::chrono::milliseconds(2 * settings_.producer.send_timeout_ms + 1000)) ==
      std::future_status::ready) {
    outcome = answer.get();
  }
  auto [status, decided] = outcome;
  std::lock_guard lock(state.mu);
  if (status.ok()) {
    state.phase = commit ? TransactionState::Phase::kCommitted : TransactionState::Phase::kRolledBack;
  } else if (decided) {
    // The broker answered with the other outcome: that is what the transaction became.
    state.phase = commit ? TransactionState::Phase::kRolledBack : TransactionState::Phase::kCommitted;
  } else {
    state.phase = TransactionState::Phase::kResolving;
  }
  return status;
}

void TransactionProducerImpl::EndAsync(const std::string& addr, EndJob job) {
  {
    std::lock_guard lock(end_mu_);
    EndLane& lane = end_lanes_[addr];
    if (lane.in_flight >= kEndsInFlight) {
      lane.waiting.push_back(std::move(job));
      return;
    }
    ++lane.in_flight;
  }
  std::vector<EndJob> jobs;
  jobs.push_back(std::move(job));
  DispatchEnds(addr, std::move(jobs));
}

void TransactionProducerImpl::DispatchEnds(const std::string& addr, std::vector<EndJob> jobs) {
  v1::Header header;
  if (jobs.size() == 1) {
    header.set_code(v1::END_TRANSACTION);
    *header.mutable_end_transaction_request() = jobs.front().request;
  } else {
    header.set_code(v1::END_TRANSACTION_BATCH);
    auto* batch = header.mutable_end_transaction_batch_request();
    for (const EndJob& job : jobs) *batch->add_requests() = job.request;
  }
  producer_->instance().rpc().Invoke(
      addr, std::move(header), {}, settings_.producer.send_timeout_ms,
      [this, addr, jobs = std::move(jobs)](Result<net::Frame> response) mutable {
        producer_->instance().RunCallback([this, addr, jobs = std::move(jobs), response = std::move(response)] {
          const bool batched = jobs.size() > 1;
          const int results = response.ok() ? response->header.end_transaction_batch_response().results_size() : 0;
          for (size_t i = 0; i < jobs.size(); ++i) {
            Result<v1::EndTransactionResponse> one = vela::Status::Internal("no answer");
            if (!response.ok()) {
              one = response.status();
            } else if (!batched) {
              one = response->header.end_transaction_response();
            } else if (static_cast<int>(i) >= results) {
              one = vela::Status::Internal(fmt::format("broker {} answered {} of {} END_TRANSACTIONs", addr, results,
                                                 jobs.size()));
            } else if (const auto& r = response->header.end_transaction_batch_response().results(static_cast<int>(i));
                       r.has_status() && r.status().code() != 0) {
              one = net::FromWireStatus(r.status());
            } else {
              one = r.response();
            }
            const EndJob& job = jobs[i];
            try {
              job.done(EndTransactionOutcome(one, job.commit, job.request.transaction_id(), addr), one.ok());
            } catch (const std::exception& e) {
              ClientLogger()->error("transaction callback threw: {}", e.what());
            } catch (...) {
              ClientLogger()->error("transaction callback threw");
            }
          }
          std::vector<EndJob> next;
          {
            std::lock_guard lock(end_mu_);
            EndLane& lane = end_lanes_[addr];
            const size_t n = std::min<size_t>(lane.waiting.size(), kMaxEndsPerRequest);
            next.assign(std::make_move_iterator(lane.waiting.begin()),
                        std::make_move_iterator(lane.waiting.begin() + static_cast<std::ptrdiff_t>(n)));
            lane.waiting.erase(lane.waiting.begin(), lane.waiting.begin() + static_cast<std::ptrdiff_t>(n));
            if (next.empty()) --lane.in_flight;
          }
          if (!next.empty()) DispatchEnds(addr, std::move(next));
        });
      });
}

Result<SendReceipt> TransactionProducerImpl::SendInTransaction(const Message& message,
                                                               const LocalTransactionExecutor& executor) {
  if (!executor) return vela::Status::InvalidArgument("SendInTransaction needs a local transaction executor");
  auto transaction = Begin();
  TransactionState& state = *transaction->state_;
  VELA_ASSIGN_OR_RETURN(SendReceipt receipt, Send(message, state));
  const TransactionResolution resolution = RunExecutor(executor, message, receipt);
  if (resolution == TransactionResolution::kUnknown) return receipt;
  vela::Status status = Resolve(state, resolution == TransactionResolution::kCommit);
  if (!status.ok()) {
    return status.WithContext(fmt::format("half message {} stored; the broker's check-back will resolve it",
                                          receipt.msg_id));
  }
  return receipt;
}

void TransactionProducerImpl::SendInTransactionAsync(Message message, LocalTransactionExecutor executor,
                                                     SendCallback callback) {
  auto refuse = [&](vela::Status status) {
    if (producer_->instance().stopped()) return callback(ToPublic(status), SendReceipt{});  // no pool to run it
    asio::post(producer_->instance().callback_pool(),
               [callback = std::move(callback), status = ToPublic(status)] { callback(status, SendReceipt{}); });
  };
  if (!executor) {
    return refuse(vela::Status::InvalidArgument("SendInTransactionAsync needs a local transaction executor"));
  }
  if (!running_.load(std::memory_order_acquire)) {
    return refuse(vela::Status::FailedPrecondition("transaction producer is shut down"));
  }
  if (auto valid = ValidateTransactional(message, settings_.producer.max_message_bytes); !valid.ok()) {
    return refuse(valid);
  }
  const std::string transaction_id = NewMessageId();
  producer_->SendTransactionalAsync(
      StampTransactional(std::move(message), group(), transaction_id), transaction_id,
      [this, executor = std::move(executor), callback = std::move(callback)](
          const vela::Status& sent, const SendReceipt& half_receipt, const Message& stamped,
          const ProducerImpl::Placement& placed) {
        if (!sent.ok()) return callback(ToPublic(sent), SendReceipt{});
        SendReceipt receipt = half_receipt;
        receipt.transaction_id = receipt.msg_id;
        const TransactionResolution resolution = RunExecutor(executor, stamped, receipt);
        if (resolution == TransactionResolution::kUnknown) return callback(Status(), receipt);
        if (!running_.load(std::memory_order_acquire)) {
          return callback(Status(StatusCode::kFailedPrecondition,
                                 fmt::format("transaction producer is shut down: transaction {} is left to the "
                                             "broker's check-back",
                                             receipt.transaction_id)),
                          receipt);
        }
        EndJob job;
        job.commit = resolution == TransactionResolution::kCommit;
        job.request = MakeEndTransactionRequest(group(), receipt.transaction_id, {placed.physical_offset}, resolution,
                                                /*from_check=*/false, /*by_operator=*/false);
        job.done = [callback, receipt](const vela::Status& status, bool) {
          if (status.ok()) return callback(Status(), receipt);
          callback(ToPublic(status.WithContext(fmt::format(
                       "half message {} stored; the broker's check-back will resolve it", receipt.msg_id))),
                   receipt);
        };
        EndAsync(placed.addr, std::move(job));
      });
}

void TransactionProducerImpl::OnCheck(net::RequestContext context, net::Frame frame) {
  if (!running_.load(std::memory_order_acquire)) return;
  auto connection = context.connection();
  if (!connection) return;
  if (!frame.header.has_check_transaction_request()) {
    ClientLogger()->warn("CHECK_TRANSACTION_STATE from {} without check_transaction_request: ignored", context.peer());
    return;
  }
  std::string peer = context.peer();
  asio::post(producer_->instance().callback_pool(),
             [this, connection = std::move(connection), peer = std::move(peer), frame = std::move(frame)] {
               RunCheck(connection, peer, frame);
             });
}

void TransactionProducerImpl::RunCheck(const std::shared_ptr<net::Connection>& connection, const std::string& peer,
                                       const net::Frame& frame) {
  if (!running_.load(std::memory_order_acquire)) return;
  const v1::CheckTransactionRequest& request = frame.header.check_transaction_request();
  if (request.producer_group() != group()) {
    ClientLogger()->warn("check of transaction {} from {} names producer group {}, not ours ({}): not answered",
                         request.transaction_id(), peer, request.producer_group(), group());
    return;
  }
  auto view = CheckedMessageView(request, frame.body, peer);
  if (!view.ok()) {
    ClientLogger()->warn("check of transaction {} from {} not answered: {}", request.transaction_id(), peer,
                         view.status().ToString());
    return;
  }
  TransactionResolution resolution;
  try {
    resolution = settings_.checker(*view);
  } catch (const std::exception& e) {
    ClientLogger()->warn("transaction checker threw on transaction {} ({}): not answered", request.transaction_id(),
                         e.what());
    return;
  } catch (...) {
    ClientLogger()->warn("transaction checker threw on transaction {}: not answered", request.transaction_id());
    return;
  }
  std::vector<int64_t> offsets(request.half_physical_offsets().begin(), request.half_physical_offsets().end());
  auto header = MakeEndTransaction(group(), request.transaction_id(), offsets, resolution, /*from_check=*/true,
                                   /*by_operator=*/false);
  std::string id = request.transaction_id();
  connection->Request(std::move(header), {}, settings_.producer.send_timeout_ms,
                      [id, peer](Result<net::Frame> response) {
                        if (!response.ok()) {
                          ClientLogger()->info("answer to the check of transaction {} from {}: {}", id, peer,
                                               response.status().ToString());
                        }
                      });
}

void TransactionProducerImpl::Shutdown() {
  running_.store(false, std::memory_order_release);
  if (producer_) producer_->Shutdown();
}

// ---- public surface ----

Transaction::Transaction(std::shared_ptr<TransactionState> state) : state_(std::move(state)) {}

Transaction::~Transaction() {
  std::lock_guard lock(state_->mu);
  if (state_->phase != TransactionState::Phase::kCommitted && state_->phase != TransactionState::Phase::kRolledBack &&
      !state_->receipts.empty()) {
    ClientLogger()->debug("transaction {} dropped unresolved: left to the broker's check-back", state_->id);
  }
}

std::string Transaction::id() const {
  std::lock_guard lock(state_->mu);
  return state_->id;
}

std::string Transaction::broker_addr() const {
  std::lock_guard lock(state_->mu);
  return state_->broker.addr;
}

std::vector<SendReceipt> Transaction::receipts() const {
  std::lock_guard lock(state_->mu);
  return state_->receipts;
}

namespace {
Status ResolveThrough(const std::shared_ptr<TransactionState>& state, bool commit) {
  auto producer = state->producer.lock();
  if (!producer) {
    return Status(StatusCode::kFailedPrecondition,
                  "the transaction's producer is gone: the transaction is left to the broker's check-back");
  }
  return ToPublic(producer->Resolve(*state, commit));
}
}  // namespace

Status Transaction::Commit() { return ResolveThrough(state_, true); }
Status Transaction::Rollback() { return ResolveThrough(state_, false); }

TransactionProducer::TransactionProducer(std::shared_ptr<TransactionProducerImpl> impl) : impl_(std::move(impl)) {}
TransactionProducer::~TransactionProducer() { Shutdown(); }

std::unique_ptr<Transaction> TransactionProducer::BeginTransaction() { return impl_->Begin(); }

StatusOr<SendReceipt> TransactionProducer::Send(const Message& message, Transaction& transaction) {
  auto result = impl_->Send(message, *transaction.state_);
  if (!result.ok()) return ToPublic(result.status());
  return std::move(result).value();
}

StatusOr<SendReceipt> TransactionProducer::SendInTransaction(const Message& message,
                                                             const LocalTransactionExecutor& executor) {
  auto result = impl_->SendInTransaction(message, executor);
  if (!result.ok()) return ToPublic(result.status());
  return std::move(result).value();
}

void TransactionProducer::SendInTransactionAsync(Message message, LocalTransactionExecutor executor,
                                                 SendCallback callback) {
  impl_->SendInTransactionAsync(std::move(message), std::move(executor), std::move(callback));
}

void TransactionProducer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

const std::string& TransactionProducer::client_id() const { return impl_->client_id(); }
const std::string& TransactionProducer::producer_group() const { return impl_->group(); }

TransactionProducerBuilder& TransactionProducerBuilder::SetClientConfig(ClientConfig config) {
  std::string namesrv = config_.namesrv_addr;
  config_ = std::move(config);
  if (config_.namesrv_addr.empty()) config_.namesrv_addr = namesrv;
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetNamesrvAddr(std::string addrs) {
  config_.namesrv_addr = std::move(addrs);
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetGroup(std::string producer_group) {
  group_ = std::move(producer_group);
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetChecker(TransactionChecker checker) {
  checker_ = std::move(checker);
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetSendTimeoutMs(int64_t timeout_ms) {
  send_timeout_ms_ = timeout_ms;
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetMaxRetries(int retries) {
  max_retries_ = retries;
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetMaxMessageBytes(size_t bytes) {
  max_message_bytes_ = bytes;
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetTopics(std::vector<std::string> topics) {
  topics_ = std::move(topics);
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetLogLevel(std::string level) {
  config_.log_level = std::move(level);
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::SetLogFile(std::string path) {
  config_.log_file = std::move(path);
  return *this;
}
TransactionProducerBuilder& TransactionProducerBuilder::EnableTrace() {
  trace_ = true;
  return *this;
}

StatusOr<std::unique_ptr<TransactionProducer>> TransactionProducerBuilder::Build() {
  if (group_.empty()) {
    return Status(StatusCode::kInvalidArgument, "a transaction producer needs a producer group (SetGroup)");
  }
  if (auto valid = ValidateProperty(prop::kProducerGroup, group_); !valid.ok()) return ToPublic(valid);
  if (!checker_) {
    return Status(StatusCode::kInvalidArgument,
                  "a transaction producer needs a TransactionChecker (SetChecker) to answer the broker's check-backs");
  }
  if (send_timeout_ms_ <= 0) return Status(StatusCode::kInvalidArgument, "send timeout must be positive");
  if (auto logging = ApplyClientLogging(config_); !logging.ok()) return ToPublic(logging);
  TransactionProducerSettings settings;
  settings.producer.config = config_;
  settings.producer.group = group_;
  settings.producer.send_timeout_ms = send_timeout_ms_;
  settings.producer.max_retries = max_retries_;
  settings.producer.max_message_bytes = max_message_bytes_;
  settings.producer.topics = topics_;
  settings.producer.trace = trace_;
  settings.checker = checker_;
  auto impl = std::make_shared<TransactionProducerImpl>(std::move(settings));
  auto status = impl->Start();
  if (!status.ok()) return ToPublic(status);
  return std::unique_ptr<TransactionProducer>(new TransactionProducer(std::move(impl)));
}

}  // namespace vela::client
