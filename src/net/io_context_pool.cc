#include "net/io_context_pool.h"

#include <pthread.h>

#include "net/logger.h"

namespace vela::net {

IoContextPool::IoContextPool(size_t size, std::string thread_name) : thread_name_(std::move(thread_name)) {
  if (size == 0) size = 1;
  for (size_t i = 0; i < size; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
}

IoContextPool::~IoContextPool() { Stop(); }

void IoContextPool::Start() {
  for (auto& ctx : contexts_) guards_.push_back(asio::make_work_guard(*ctx));
  for (size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, i] {
      std::string name = thread_name_ + std::to_string(i);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      for (;;) {
        try {
          contexts_[i]->run();
          break;
        } catch (const std::exception& e) {
          NetLogger()->error("io thread {} handler threw: {}; continuing", name, e.what());
        }
      }
    });
  }
}

void IoContextPool::Stop() {
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

asio::io_context& IoContextPool::Next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

}  // namespace vela::net
