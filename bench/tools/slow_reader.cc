// vela-slow-reader: the "client that does not read" of the soak (bench/soak.sh). It connects to a
// broker, pipelines PULL_MESSAGE requests (each answered at once with up to --max-messages
// records), keeps --pipeline of them outstanding, and reads its socket at --read-bytes-per-s (0:
// never), so the broker is left holding responses it cannot send. It closes the connection and
// opens a new one every --reconnect-s, reconnects a second after the broker closes it, and stops
// by itself after --duration seconds.
//   vela-slow-reader --broker 127.0.0.1:10911 --topic T --group G --duration 3600
// Prints one JSON line per connection it ends and a final line with "summary": true and the
// totals. Exit status: 0, or 1 when it could never connect, 2 on bad usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/coding.h"
#include "common/command_line.h"
#include "net/frame_codec.h"

namespace vela::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kRetryAfterClose = std::chrono::seconds(1);
constexpr int kSmallReceiveBuffer = 4096;  // the kernel then buffers little on our side
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // never connected
constexpr int kExitUsage = 2;

// What the command line asks for.
struct Options {
  std::string broker;
  std::string topic;
  std::string group;
  double duration_s = 60;
  int queues = 8;
  int pipeline = 2000;
  int max_messages = 8;
  int64_t read_bytes_per_s = 2048;
  double reconnect_s = 60;
};

// Counters of one connection, or of the whole run.
struct Counters {
  int64_t connections = 0;
  int64_t connect_failures = 0;
  int64_t requests_queued = 0;  // encoded for sending (written, or pending when the broker stops reading)
  int64_t bytes_written = 0;
  int64_t bytes_read = 0;
  int64_t responses = 0;
  int64_t error_responses = 0;  // a status other than OK
  int64_t closed_by_broker = 0;

  void Add(const Counters& o) {
    connections += o.connections;
    connect_failures += o.connect_failures;
    requests_queued += o.requests_queued;
    bytes_written += o.bytes_written;
    bytes_read += o.bytes_read;
    responses += o.responses;
    error_responses += o.error_responses;
    closed_by_broker += o.closed_by_broker;
  }
  nlohmann::json ToJson() const {
    return {{"connections", connections},       {"connect_failures", connect_failures},
            {"requests_queued", requests_queued}, {"bytes_written", bytes_written},
            {"bytes_read", bytes_read},         {"responses", responses},
            {"error_responses", error_responses}, {"closed_by_broker", closed_by_broker}};
  }
};

// Follows frame boundaries in the bytes read so far without keeping the bodies: it holds a
// frame's length prefix, header length and header (to read the response status), then skips
// the body. Counts complete responses and the ones whose status is not OK.
class ResponseCounter {
 public:
  explicit ResponseCounter(Counters* counters) : counters_(counters) {}

  void Consume(const char* p, size_t n) {
    while (n > 0) {
      if (skip_ > 0) {
        const size_t k = std::min<size_t>(n, skip_);
        skip_ -= k;
        p += k;
        n -= k;
        if (skip_ == 0) ++counters_->responses;
        continue;
      }
      const size_t want = Wanted();
      const size_t k = std::min(n, want - head_.size());
      head_.append(p, k);
      p += k;
      n -= k;
      if (head_.size() == want) Advance();
    }
  }

 private:
  // Bytes of head_ needed before the next step: length prefix + header length, then the header.
  size_t Wanted() const {
    if (head_.size() < 8) return 8;
    return 8 + coding::GetBigEndian32(head_.data() + 4);
  }
  void Advance() {
    const uint32_t frame_length = coding::GetBigEndian32(head_.data());
    const uint32_t header_length = coding::GetBigEndian32(head_.data() + 4);
    if (head_.size() == 8 && header_length > net::kMaxHeaderSize) {
      ++counters_->error_responses;  // not a header the broker would send: skip the frame unread
      head_.clear();
      skip_ = frame_length >= 4 ? frame_length - 4 : 0;
      if (skip_ == 0) ++counters_->responses;
      return;
    }
    if (head_.size() == 8 && header_length > 0) return;  // now read the header itself
    v1::Header header;
    if (!header.ParseFromArray(head_.data() + 8, static_cast<int>(header_length)) || header.status().code() != 0) {
      ++counters_->error_responses;
    }
    const uint64_t body = frame_length >= 4 + header_length ? frame_length - 4 - header_length : 0;
    head_.clear();
    if (body == 0) {
      ++counters_->responses;
    } else {
      skip_ = body;
    }
  }

  Counters* counters_;
  std::string head_;
  uint64_t skip_ = 0;
};

// Parses "a.b.c.d:port" (IPv4, as the broker's listen address prints it); false when it is not.
bool ParseAddress(const std::string& addr, sockaddr_in* out) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string port = addr.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  const int p = std::stoi(port);
  if (p < 1 || p > 65535) return false;
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(p));
  return inet_pton(AF_INET, addr.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

// Opens a non-blocking TCP connection with a small receive buffer; -1 (and the reason on
// stderr) on failure.
int Connect(const sockaddr_in& sa) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("vela-slow-reader: socket");
    return -1;
  }
  int rcvbuf = kSmallReceiveBuffer;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);  // before connect: sets the window
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    std::perror("vela-slow-reader: connect");
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// One connection's life: pipeline, read slowly, until its time is up, the run ends or the broker
// closes it. Returns its counters.
Counters RunConnection(const Options& o, int fd, Clock::time_point run_end, uint64_t* next_request_id) {
  Counters c;
  c.connections = 1;
  ResponseCounter responses(&c);
  const auto conn_end = std::min(run_end, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                              std::chrono::duration<double>(o.reconnect_s)));
  std::string out;  // encoded requests not yet written
  int next_queue = 0;
  const auto budget_per_tick = o.read_bytes_per_s * kTick.count() / 1000;
  std::string in(static_cast<size_t>(std::max<int64_t>(budget_per_tick, 1)), '\0');
  while (Clock::now() < conn_end) {
    // Keep --pipeline requests outstanding (written or waiting to be written, not yet answered).
    while (c.requests_queued - c.responses < o.pipeline && out.size() < (1u << 20)) {
      v1::Header h;
      h.set_request_id((*next_request_id)++);
      h.set_code(v1::PULL_MESSAGE);
      h.set_version(net::kProtocolVersion);
      auto* p = h.mutable_pull_request();
      p->set_group(o.group);
      p->set_topic(o.topic);
      p->set_queue_id(next_queue);
      p->set_queue_offset(0);
      p->set_max_messages(o.max_messages);
      p->set_suspend_timeout_ms(0);
      next_queue = (next_queue + 1) % o.queues;
      out += net::EncodeFrame(h, {});
      ++c.requests_queued;
    }
    while (!out.empty()) {
      const ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n <= 0) break;  // EAGAIN: the broker is not reading us; an error shows on read
      c.bytes_written += n;
      out.erase(0, static_cast<size_t>(n));
    }
    bool closed = false;
    int64_t budget = budget_per_tick;
    while (budget > 0) {
      const ssize_t n = recv(fd, in.data(), static_cast<size_t>(budget), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        closed = true;
        break;
      }
      if (n < 0) break;
      c.bytes_read += n;
      budget -= n;
      responses.Consume(in.data(), static_cast<size_t>(n));
    }
    if (o.read_bytes_per_s == 0) {
      // Never reading: notice a close by the broker without taking any bytes.
      pollfd pfd{fd, POLLRDHUP, 0};
      if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) closed = true;
    }
    if (closed) {
      c.closed_by_broker = 1;
      // Requests not written were never sent.
      break;
    }
    std::this_thread::sleep_for(kTick);
  }
  close(fd);
  return c;
}

int Main(int argc, char** argv) {
  CLI::App app{"vela-slow-reader: pipelines pulls and reads the responses slowly (soak traffic)"};
  AddVersionFlag(app, "vela-slow-reader");
  Options o;
  app.add_option("--broker", o.broker, "broker host:port")->required();
  app.add_option("--topic", o.topic, "topic to pull")->required();
  app.add_option("--group", o.group, "consumer group named in the pulls (no offsets committed)")->required();
  app.add_option("--duration", o.duration_s, "stop after S seconds")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--queues", o.queues, "pull queues 0..N-1 in turn")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--pipeline", o.pipeline, "requests kept outstanding per connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--max-messages", o.max_messages, "max messages per pull")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--read-bytes-per-s", o.read_bytes_per_s, "bytes read per second (0: never read)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--reconnect-s", o.reconnect_s, "close and reopen the connection every S seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;  // --help exits 0, bad usage 2 (CLI.md)
  }
  sockaddr_in broker{};
  if (!ParseAddress(o.broker, &broker)) {
    std::fprintf(stderr, "vela-slow-reader: --broker must be IPv4:PORT, got '%s'\n", o.broker.c_str());
    return kExitUsage;
  }
  signal(SIGPIPE, SIG_IGN);

  const auto run_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  Counters total;
  uint64_t next_request_id = 1;
  while (Clock::now() < run_end) {
    const int fd = Connect(broker);
    if (fd < 0) {
      ++total.connect_failures;
      std::this_thread::sleep_for(kRetryAfterClose);
      continue;
    }
    const Counters c = RunConnection(o, fd, run_end, &next_request_id);
    total.Add(c);
    std::printf("%s\n", c.ToJson().dump().c_str());
    std::fflush(stdout);
    if (c.closed_by_broker != 0 && Clock::now() < run_end) std::this_thread::sleep_for(kRetryAfterClose);
  }
  nlohmann::json summary = total.ToJson();
  summary["summary"] = true;
  std::printf("%s\n", summary.dump().c_str());
  return total.connections > 0 ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace vela::bench

int main(int argc, char** argv) { return vela::bench::Main(argc, argv); }
