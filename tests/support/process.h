#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace vela::testing {

// A child process (a real vela-namesrv or vela-broker) started for a test. Its stdout is read
// until the "listening on HOST:PORT" line; stderr goes to a log file kept for failures.
// Destruction kills it with SIGKILL if still running. Thread-compatible.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  // Starts `argv[0]` with the arguments, waits up to timeout_ms for the ready line.
  static Result<ChildProcess> Start(const std::vector<std::string>& argv, const std::string& log_file,
                                    int timeout_ms = 15000);
  // Sends SIGTERM and waits; returns the exit status (or -signal).
  int Terminate(int timeout_ms = 15000);
  // SIGKILL and reap.
  void Kill();
  bool running();
  const std::string& address() const { return address_; }
  // The "http on HOST:PORT" the daemon printed before its listening line; empty if none.
  const std::string& http_address() const { return http_address_; }
  pid_t pid() const { return pid_; }
  const std::string& log_file() const { return log_file_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string address_;
  std::string http_address_;
  std::string log_file_;
};

// Path of a built binary (tests run from the build tree: <build>/bin/NAME).
std::string BinaryPath(const std::string& name);

// Runs a command to completion, capturing stdout (and stderr separately). Returns the exit code.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms = 60000);

// Starts a command in the background with stdout and stderr appended to files; returns its pid
// (the caller kills or reaps it with WaitExit).
pid_t SpawnToFiles(const std::vector<std::string>& argv, const std::string& out_file, const std::string& err_file);
// Waits for a spawned pid; returns its exit code, or -1 on timeout (then it is killed).
int WaitExit(pid_t pid, int timeout_ms);

}  // namespace vela::testing
