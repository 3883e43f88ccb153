#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/client_instance.h"
#include "common/command_line.h"
#include "common/result.h"
#include "common/text_encoding.h"
#include "vela/message.h"

// What every vela-admin command shares: the global options, a lazily made client instance (RPC
// client, name servers), and the output helpers (tables, JSON, errors, exit codes).
namespace vela::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = vela::kExitBadUsage;  // bad usage (common/command_line.h)

// AdminContext holds the global options and the connection machinery of one vela-admin run.
// Used from the main thread only (thread-compatible); the consume command's listener reaches
// it only through its own synchronized state.
class AdminContext {
 public:
  AdminContext() = default;
  ~AdminContext();

  // Global options (filled by CLI11).
  std::string namesrv;
  bool json = false;
  double timeout_s = 0;  // 0: not given

  // The command chosen on the command line; returns the exit code.
  std::function<int()> action;

  // Request timeout in ms: --timeout, else 5 s.
  int64_t request_timeout_ms() const { return timeout_s > 0 ? static_cast<int64_t>(timeout_s * 1000) : 5000; }
  // The name-server addresses: --namesrv, else VELA_NAMESRV, else "" (the caller reports it).
  std::string NamesrvAddrs() const;

  // The client instance (created on first use). Fails without a name server address.
  Result<client::ClientInstance*> Instance();
  // Sends one request to `addr` and waits (request timeout).
  Result<net::Frame> Invoke(const std::string& addr, v1::Header header);
  // Sends `request` to every address in turn and hands each successful response to on_response.
  // Each failure is reported on stderr, except NotFound when skip_not_found (the thing is not on
  // that broker). Returns kExitOk, or the failure exit code if any broker failed.
  int ForEachBroker(const std::vector<std::string>& addrs, const v1::Header& request,
                    const std::function<void(const std::string& addr, const net::Frame& response)>& on_response,
                    bool skip_not_found = false);
  // GET_CLUSTER_INFO through the name servers (with every topic name when include_topics).
  Result<v1::ClusterInfoResponse> ClusterInfo(bool include_topics = false);
  // Every entry of a paged list request (LIST_TOPICS, LIST_GROUPS) from one broker: asks page
  // after page, handing each response body to on_page. Fails with the first failed page.
  // `include_system`: LIST_TOPICS also lists the broker's system topics.
  Status ForEachPage(const std::string& addr, v1::RequestCode code,
                     const std::function<Status(const std::string& body)>& on_page, bool include_system = false);
  // The master address of every broker, sorted, optionally only of `cluster`.
  Result<std::vector<std::string>> BrokerAddrs(const std::string& cluster = "");
  // Where an administrative change goes: the one broker named, else every broker of the cluster
  // (or of all clusters).
  Result<std::vector<std::string>> TargetBrokers(const std::string& broker, const std::string& cluster);
  // GET_ROUTE, parsed.
  Result<client::TopicRoute> Route(const std::string& topic);

 private:
  std::unique_ptr<client::ClientInstance> instance_;
};

// Prints "error: <status>" to stderr and returns kExitFailed.
int Fail(const vela::Status& status);
int Fail(const std::string& message);
// Prints `doc` on one line to stdout and flushes.
void PrintJson(const nlohmann::json& doc);

// A human-readable table: columns sized to their widest cell. Thread-compatible.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print() const;
  size_t size() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "2024-01-02 03:04:05.678" (local time) for epoch ms; "-" for 0.
std::string FormatTime(int64_t epoch_ms);
// Shared with the broker's console API (common/text_encoding.h).
using vela::Base64Encode;
using vela::IsValidUtf8;
// The JSON object of a received message (CLI.md's consume --json line).
nlohmann::json MessageJson(const client::MessageView& m);
// One human line for a received message.
std::string MessageLine(const client::MessageView& m);
// Parses "k=v" (repeatable --prop). Returns false when there is no '='.
bool SplitKeyValue(const std::string& kv, std::string* key, std::string* value);

// Each command area adds its subcommands to `app`; their callbacks set ctx.action.
void AddClusterCommands(CLI::App& app, AdminContext& ctx);
void AddTopicCommands(CLI::App& app, AdminContext& ctx);
void AddGroupCommands(CLI::App& app, AdminContext& ctx);
void AddMessageCommands(CLI::App& app, AdminContext& ctx);
// vela-admin message trace ID (trace_commands.cc).
int MessageTrace(AdminContext& ctx, const std::string& id);
void AddFilterCommands(CLI::App& app, AdminContext& ctx);
void AddTransactionCommands(CLI::App& app, AdminContext& ctx);

}  // namespace vela::tools
