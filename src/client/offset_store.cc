#include "client/offset_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "client/logger.h"

namespace vela::client {

// ---- BrokerOffsetStore ----

Result<int64_t> BrokerOffsetStore::Read(const MessageQueue& mq, const std::string& addr) {
  v1::Header query;
  query.set_code(v1::QUERY_CONSUMER_OFFSET);
  auto* q = query.mutable_query_offset_request();
  q->set_group(ctx_.group());
  q->set_topic(mq.topic);
  q->set_queue_id(mq.queue_id);
  auto committed = ctx_.instance->rpc().InvokeSync(addr, query, {}, ctx_.config.request_timeout_ms);
  if (committed.ok()) return std::max<int64_t>(committed->header.query_offset_response().offset(), -1);
  if (committed.status().code() == vela::StatusCode::kNotFound) return int64_t{-1};
  return committed.status();
}

int64_t BrokerOffsetStore::OffsetForPull(ProcessQueue& pq) {
  if (!ctx_.options.commit_offsets) return 0;
  std::lock_guard lock(pq.mu);
  const int64_t committable = pq.tracker.CommittableOffset();
  return committable > pq.last_committed ? committable : 0;
}

void BrokerOffsetStore::OnPullCommitted(ProcessQueue& pq, int64_t offset) {
  std::lock_guard lock(pq.mu);
  pq.last_committed = std::max(pq.last_committed, offset);
}

void BrokerOffsetStore::Commit(const std::shared_ptr<ProcessQueue>& pq, bool sync) {
  if (!ctx_.options.commit_offsets) return;
  int64_t offset = 0;
  {
    std::lock_guard lock(pq->mu);
    offset = pq->tracker.CommittableOffset();
    if (offset <= pq->last_committed) return;
  }
  std::string addr = ctx_.AddrOf(pq->mq);
  if (addr.empty()) return;
  v1::Header header;
  header.set_code(v1::UPDATE_CONSUMER_OFFSET);
  auto* u = header.mutable_update_offset_request();
  u->set_group(ctx_.group());
  u->set_topic(pq->mq.topic);
  u->set_queue_id(pq->mq.queue_id);
  u->set_offset(offset);
  auto on_done = [pq, offset, addr](const Result<net::Frame>& r) {
    if (!r.ok()) {
      ClientLogger()->warn("commit of {} at {} to {} failed: {}", pq->mq.ToString(), offset, addr,
                           r.status().ToString());
      return;
    }
    std::lock_guard lock(pq->mu);
    pq->last_committed = std::max(pq->last_committed, offset);
  };
  if (sync) {
    on_done(ctx_.instance->rpc().InvokeSync(addr, std::move(header), {}, ctx_.config.request_timeout_ms));
  } else {
    ctx_.instance->rpc().Invoke(addr, std::move(header), {}, ctx_.config.request_timeout_ms, on_done);
  }
}

// ---- LocalFileOffsetStore ----

namespace {

constexpr std::string_view kFileHeader = "vela-offsets 1";

// A file-name-safe form of a name (letters, digits, '_', '-', '.', '%', '|'; others become '_').
std::string SafeFileName(const std::string& name) {
  std::string out = name.empty() ? std::string("DEFAULT") : name;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.' || c == '%' || c == '|';
    if (!ok) c = '_';
  }
  if (out == "." || out == "..") out = "_";
  return out;
}

}  // namespace

std::string LocalFileOffsetStore::DefaultDir() {
  const char* home = std::getenv("HOME");
  return (home != nullptr && *home != '\0' ? std::string(home) : std::string(".")) + "/.vela/offsets";
}

LocalFileOffsetStore::LocalFileOffsetStore(std::string dir, std::string group, std::string instance_name,
                                           bool read_only)
    : path_(fmt::format("{}/{}/{}.offsets", dir.empty() ? DefaultDir() : dir, SafeFileName(group),
                        SafeFileName(instance_name))),
      read_only_(read_only) {}

LocalFileOffsetStore::~LocalFileOffsetStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

vela::Status LocalFileOffsetStore::Load() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path path(path_);
  if (!read_only_) fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return vela::Status::IOError(
        fmt::format("cannot create the offset directory {}: {}", path.parent_path().string(), ec.message()));
  }
  if (lock_fd_ < 0 && !read_only_) {
    const std::string lock_path = path_ + ".lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return vela::Status::IOError(fmt::format("cannot open {}: {}", lock_path, std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return vela::Status::FailedPrecondition(fmt::format(
          "the local offset file {} is in use by another consumer of this group and instance name on this machine; "
          "give each broadcast instance its own instance name or offset directory",
          path_));
    }
    lock_fd_ = fd;
  }
  std::ifstream in(path_);
  if (!in) {
    if (!fs::exists(path, ec)) return vela::Status::OK();  // first run: nothing to resume
    return vela::Status::IOError(fmt::format("cannot read the local offset file {}", path_));
  }
  std::map<MessageQueue, int64_t> loaded;
  std::string line;
  size_t line_no = 0;
  auto corrupt = [&](std::string_view why) {
    return vela::Status::Corruption(fmt::format(
        "the local offset file {} is corrupt at line {}: {}; move it away to start over from the consume-from "
        "position",
        path_, line_no, why));
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) {
      if (line != kFileHeader) return corrupt(fmt::format("expected the header '{}'", kFileHeader));
      continue;
    }
    if (line.empty()) continue;
    std::istringstream fields(line);
    MessageQueue mq;
    int64_t offset = -1;
    std::string rest;
    if (!(fields >> mq.topic >> mq.broker_name >> mq.queue_id >> offset) || (fields >> rest) || offset < 0 ||
        mq.queue_id < 0) {
      return corrupt("expected '<topic> <broker_name> <queue_id> <offset>'");
    }
    loaded[mq] = offset;
  }
  if (line_no == 0) return corrupt("the file is empty");
  std::lock_guard lock(mu_);
  for (const auto& [mq, offset] : loaded) offsets_.emplace(mq, offset);
  ClientLogger()->info("loaded {} local offset(s) from {}", loaded.size(), path_);
  return vela::Status::OK();
}

Result<int64_t> LocalFileOffsetStore::Read(const MessageQueue& mq, const std::string&) {
  std::lock_guard lock(mu_);
  auto it = offsets_.find(mq);
  return it == offsets_.end() ? int64_t{-1} : it->second;
}

void LocalFileOffsetStore::Put(const MessageQueue& mq, int64_t offset) {
  std::lock_guard lock(mu_);
  auto& slot = offsets_[mq];
  if (slot != offset) dirty_ = true;
  slot = offset;
}

void LocalFileOffsetStore::Commit(const std::shared_ptr<ProcessQueue>& pq, bool sync) {
  if (read_only_) return;
  int64_t offset = 0;
  {
    std::lock_guard lock(pq->mu);
    offset = pq->tracker.CommittableOffset();
    if (offset == pq->last_committed) return;
    pq->last_committed = offset;
  }
  Put(pq->mq, offset);
  if (sync) {
    auto flushed = Flush();
    if (!flushed.ok()) ClientLogger()->warn("{}", flushed.ToString());
  }
}

vela::Status LocalFileOffsetStore::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::string text;
  {
    std::lock_guard lock(mu_);
    if (!dirty_) return vela::Status::OK();
    text = std::string(kFileHeader) + "\n";
    for (const auto& [mq, offset] : offsets_) {
      text += fmt::format("{} {} {} {}\n", mq.topic, mq.broker_name, mq.queue_id, offset);
    }
    dirty_ = false;
  }
  auto fail = [&](std::string_view what) {
    std::lock_guard lock(mu_);
    dirty_ = true;  // try again at the next flush
    return vela::Status::IOError(fmt::format("cannot write the local offset file {}: {}: {}", path_, what,
                                             std::strerror(errno)));
  };
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("open");
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return fail("write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("fsync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return fail("rename");
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  return vela::Status::OK();
}

}  // namespace vela::client
