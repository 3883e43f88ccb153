#pragma once

namespace vela::net {

// Sends protobuf's own log lines (e.g. "String field ... contains invalid UTF-8", one per bad
// header a client sends) to the "net" logger through a rate limiter, instead of unbounded lines
// on stderr. Call once at startup, before any thread parses protobuf (protobuf's SetLogHandler
// is not thread-safe).
void RouteProtobufLogsToNetLogger();

}  // namespace vela::net
