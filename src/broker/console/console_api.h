#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/broker_options.h"
#include "broker/client_manager.h"
#include "broker/retry/retry_service.h"
#include "broker/timer/timer_service.h"
#include "broker/topic_manager.h"
#include "broker/transaction/transaction_service.h"
#include "http/http_server.h"
#include "store/message_store.h"

namespace vela::broker {

// Bounds of the console's JSON answers (docs/operations.md, "The JSON API").
inline constexpr int64_t kMaxGroupsPerPage = 1000;        // /api/groups ?limit (default 100)
inline constexpr int64_t kMaxMembersListed = 1000;        // /api/groups?name=G: member ids
inline constexpr int64_t kMaxMessagesByKey = 64;          // /api/messages?topic&key ?limit (default 32)
inline constexpr int64_t kMaxDeadLettersPerPage = 100;    // /api/dlq ?limit (default 50)
inline constexpr int64_t kMaxTransactionsListed = 1000;   // /api/transactions ?limit (default 200)
inline constexpr size_t kMaxBodyBytesOne = 256 * 1024;    // the body shown of a message found by id
inline constexpr size_t kMaxBodyBytesListed = 16 * 1024;  // the body shown of each message of a list
inline constexpr size_t kMaxTimerTopicsListed = 100;      // /api/timers: pending per topic, largest first
inline constexpr int64_t kMaxTraceEvents = 1000;          // /api/trace: events of one message

// ConsoleApi serves the web console at `/` (one HTML page with its CSS and JavaScript, embedded in
// the binary from src/broker/console/index.html) and the read-only JSON routes the page reads,
// next to BrokerHttpApi's /api/cluster and /api/topics:
//   GET /api/groups        consumer groups (a page: ?limit, ?after) or one (?name=G) with, per
//                          topic and queue, the committed offset, the max offset and the lag
//   GET /api/messages      ?topic=T&key=K[&limit=N] (the store's key index) or ?id=ID (unique id,
//                          or an offset id of this broker): properties, tags, keys, times,
//                          queue and offset, the body (text when UTF-8, else base64; bounded)
//   GET /api/timers        pending timers, the next due time, deliveries and lateness
//   GET /api/transactions  pending transactions (?limit) and the service's figures
//   GET /api/dlq           ?group=G[&limit=N][&from=OFFSET]: the group's dead letters
//   GET /api/trace         ?id=ID: the trace events of a traced message recorded on this broker
//                          (RMQ_SYS_TRACE_TOPIC by key), in timeline order, as `message trace`
// and the write routes (parameters in a form body, application/x-www-form-urlencoded):
//   POST /api/dlq/resend           group=G and id=ID or all=true: resends dead letters into
//                                  %RETRY%G (RetryService::Resend, as DEAD_LETTER_RESEND)
//   POST /api/groups/reset-offset  group=G&topic=T and to=earliest|latest or time=EPOCH_MS: moves
//                                  the group's offsets (ResetGroupOffsets, as RESET_OFFSET)
// The write routes act only when consoleWriteEnabled=true (else 403 naming the setting) and only
// for a request carrying the header `X-Vela-Console: write` (else 403): a page of another site
// cannot send it without a CORS preflight, which this server never grants, so a cross-site form
// cannot trigger them. Every write request is logged (peer, action, result) at info level.
// It reuses the services the admin requests use (GroupProgress, LookUpMessageRecord,
// ResetGroupOffsets, the timer, transaction and retry services); every answer is bounded (the k*
// limits above); a malformed parameter is a 400 and an unknown group, topic or message a 404, each
// a JSON {"error"}. Handlers run on the HTTP threads and only call thread-safe services.
// Everything passed in must outlive the server's Stop.
class ConsoleApi {
 public:
  ConsoleApi(const BrokerOptions& options, store::MessageStore& store, TopicManager& topics, ClientManager& clients,
             timer::TimerService& timers, transaction::TransactionService& transactions,
             retry::RetryService& retries);

  // Adds `/` and the routes above to `server`. REQUIRES: before server.Start().
  void Register(http::HttpServer& server);

  http::HttpResponse Page(const http::HttpRequest& request);
  http::HttpResponse Groups(const http::HttpRequest& request);
  http::HttpResponse Messages(const http::HttpRequest& request);
  http::HttpResponse Timers(const http::HttpRequest& request);
  http::HttpResponse Transactions(const http::HttpRequest& request);
  http::HttpResponse DeadLetters(const http::HttpRequest& request);
  http::HttpResponse Trace(const http::HttpRequest& request);
  http::HttpResponse ResendDeadLetters(const http::HttpRequest& request);
  http::HttpResponse ResetOffset(const http::HttpRequest& request);

 private:
  // Why a write request may not act (403: writes off, or the header missing), or nullopt.
  std::optional<http::HttpResponse> RefuseWrite(const http::HttpRequest& request) const;
  // Logs a write request's outcome at info level and returns `response`.
  http::HttpResponse LogWrite(const http::HttpRequest& request, const std::string& action,
                              http::HttpResponse response) const;

  const BrokerOptions& options_;
  store::MessageStore& store_;
  TopicManager& topics_;
  ClientManager& clients_;
  timer::TimerService& timers_;
  transaction::TransactionService& transactions_;
  retry::RetryService& retries_;
};

// The header (and its value) a console write request must carry: a page of another site cannot
// send it without a CORS preflight.
inline constexpr const char* kConsoleWriteHeader = "X-Vela-Console";
inline constexpr const char* kConsoleWriteHeaderValue = "write";

// The console's files (src/broker/console/, embedded at build time): the page, served at `/`, and
// the script and style it loads from /console.js and /console.css.
std::string_view ConsolePageHtml();
std::string_view ConsoleScriptJs();
std::string_view ConsoleStyleCss();

}  // namespace vela::broker
