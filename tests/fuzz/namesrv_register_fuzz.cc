// libFuzzer target: arbitrary bytes as a sequence of name-server operations, above all
// REGISTER_BROKER frames (header fields + body), fed to the route registry without sockets.
// Each input starts from a registry that already holds one well-formed broker on connection 1,
// so the trust checks (foreign registrations and unregistrations) are exercised too.
//
// Input: a sequence of records | u8 op | u8 connection (bit 7: closed) | u16 header length | header |
// u24 body length | body |, lengths little-endian and clipped to what is left. op % 6 picks
// register / unregister / connection closed / expire / route lookup / delete + topic names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "namesrv/route_registry.h"

namespace {

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint32_t Int(size_t bytes) {
    uint32_t v = 0;
    for (size_t i = 0; i < bytes && pos_ < size_; ++i) v |= static_cast<uint32_t>(data_[pos_++]) << (8 * i);
    return v;
  }
  std::string_view Bytes(size_t n) {
    n = std::min(n, size_ - pos_);
    std::string_view out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "invariant broken: %s\n", what);
  abort();
}

}  // namespace

// Protobuf logs every string field that is not UTF-8; the fuzzer makes many.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vela::namesrv::RouteRegistry;
  RouteRegistry registry(120000);
  vela::v1::RegisterBrokerRequest real;
  real.set_cluster_name("c");
  real.set_broker_name("real");
  real.set_broker_addr("127.0.0.1:10911");
  auto* t = real.add_topics();
  t->set_topic("held");
  t->set_read_queues(4);
  t->set_write_queues(4);
  t->set_perm(6);
  if (!registry.Register(real, {}, 1, 1000).ok()) Fail("seed registration refused");

  Reader in(data, size);
  int64_t now = 1000;
  for (int ops = 0; !in.empty() && ops < 64; ++ops) {
    const uint32_t op = in.Int(1) % 6;
    const uint32_t conn_byte = in.Int(1);
    const uint64_t conn = 2 + (conn_byte & 0x7f) % 3;  // other connections; connection 1 holds the real broker
    const bool open = (conn_byte & 0x80) == 0;          // else: it closed while its frame was handled
    const std::string_view header_bytes = in.Bytes(in.Int(2));
    const std::string_view body = in.Bytes(in.Int(3));
    now += 1000;
    vela::v1::RegisterBrokerRequest request;
    const bool parsed = request.ParseFromArray(header_bytes.data(), static_cast<int>(header_bytes.size()));
    switch (op) {
      case 0: {
        if (!parsed) break;
        auto out = registry.Register(request, body, conn, now, [open] { return open; });
        if (out.ok() && !open && (out->committed || out->new_broker)) Fail("a closed connection's registration kept");
        // The real broker's address stays with connection 1 whatever others send.
        if (out.ok() && request.broker_addr() == real.broker_addr()) {
          Fail("a foreign connection registered the held address");
        }
        if (out.ok() && request.broker_name() == real.broker_name() && request.broker_id() == 0) {
          Fail("a foreign connection registered the held broker identity");
        }
        if (out.ok() && out->committed && out->send_topics) Fail("committed and asked for the table");
        break;
      }
      case 1: {
        auto s = registry.Unregister(std::string(header_bytes), conn);
        if (s.ok() && header_bytes == real.broker_addr()) Fail("foreign unregistration accepted");
        break;
      }
      case 2:
        registry.ConnectionClosed(conn);
        break;
      case 3:
        registry.ExpireSilent(now);  // at most 64 s pass: the real broker does not expire
        break;
      case 4:
        (void)registry.GetRoute(std::string(header_bytes));
        (void)registry.GetClusterInfo();
        break;
      default: {
        if (std::string(header_bytes) != "held") registry.DeleteTopic(std::string(header_bytes));
        bool more = false;
        (void)registry.TopicNames(std::string(body.substr(0, 64)), 1 + conn * 3, 1 << 16, &more);
        break;
      }
    }
  }
  // Nobody else took the real broker's address or dropped its route.
  if (registry.AddrOf(1) != real.broker_addr()) Fail("the real broker lost its address");
  // (Other addresses may serve "held" too: registering a new address is allowed.)
  auto route = registry.GetRoute("held");
  if (!route.ok()) Fail("the real broker's route is gone");
  bool real_routes = false;
  for (const auto& b : route->brokers()) {
    auto it = b.addrs().find(0);
    real_routes = real_routes || (it != b.addrs().end() && it->second == real.broker_addr());
  }
  if (!real_routes) Fail("the real broker's route is gone");
  for (const auto& q : route->queues()) {
    if (q.broker_name() == "real" && (q.read_queues() != 4 || q.write_queues() != 4 || q.perm() != 6)) {
      Fail("the real broker's queues were replaced");
    }
  }
  return 0;
}
