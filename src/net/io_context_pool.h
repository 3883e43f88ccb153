#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

namespace vela::net {

// IoContextPool runs N io_contexts, one thread each (the Asio http/server2 pattern). A
// connection is given one context by Next() and stays on it. Start/Stop from the owner's thread;
// Next() is thread-safe.
class IoContextPool {
 public:
  IoContextPool(size_t size, std::string thread_name);
  ~IoContextPool();
  IoContextPool(const IoContextPool&) = delete;
  IoContextPool& operator=(const IoContextPool&) = delete;

  void Start();
  // Stops every context and joins the threads. Idempotent.
  void Stop();
  asio::io_context& Next();
  asio::io_context& At(size_t i) { return *contexts_[i]; }
  size_t size() const { return contexts_.size(); }

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
  std::string thread_name_;
};

}  // namespace vela::net
