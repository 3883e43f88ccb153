#include "common/service_thread.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

namespace vela {

ServiceThread::~ServiceThread() {
  // Subclasses must call Stop() in their destructor: Run() is pure virtual.
  if (thread_.joinable()) {
    stopped_.store(true, std::memory_order_release);
    Wakeup();
    thread_.join();
  }
}

void ServiceThread::Start() {
  stopped_.store(false, std::memory_order_release);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    try {
      Run();
    } catch (const std::exception& e) {
      spdlog::error("service thread {} stopped by exception: {}", name_, e.what());
    }
  });
}

void ServiceThread::Stop() {
  stopped_.store(true, std::memory_order_release);
  Wakeup();
  if (thread_.joinable()) thread_.join();
}

void ServiceThread::Wakeup() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_one();
}

void ServiceThread::WaitForRunning(std::chrono::milliseconds interval) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, interval, [this] { return notified_ || stopped(); });
  notified_ = false;
}

}  // namespace vela
