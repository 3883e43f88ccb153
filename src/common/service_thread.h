#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace vela {

// ServiceThread is a named background thread that runs Run() until stopped, sleeping between
// rounds with WaitForRunning(interval) which Wakeup() cuts short (RocketMQ's ServiceThread).
// Subclasses implement Run() as `while (!stopped()) { WaitForRunning(...); DoWork(); }`.
// Start/Stop are called from the owner's thread; Wakeup is thread-safe. Stop joins.
class ServiceThread {
 public:
  explicit ServiceThread(std::string name) : name_(std::move(name)) {}
  virtual ~ServiceThread();
  ServiceThread(const ServiceThread&) = delete;
  ServiceThread& operator=(const ServiceThread&) = delete;

  void Start();
  // Sets the stop flag, wakes the thread and joins it. Idempotent.
  void Stop();
  void Wakeup();
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }
  const std::string& name() const { return name_; }

 protected:
  virtual void Run() = 0;
  // Sleeps up to `interval` or until Wakeup()/Stop(). A Wakeup that came before the call is not lost.
  void WaitForRunning(std::chrono::milliseconds interval);

 private:
  std::string name_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  std::atomic<bool> stopped_{false};
};

}  // namespace vela
