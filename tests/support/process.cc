#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

namespace vela::testing {
namespace {

std::vector<char*> MakeArgv(const std::vector<std::string>& args) {
  std::vector<char*> out;
  for (const auto& a : args) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string BinaryPath(const std::string& name) {
  // The test binaries live in <build>/bin next to the daemons.
  auto self = std::filesystem::read_symlink("/proc/self/exe");
  return (self.parent_path() / name).string();
}

ChildProcess::~ChildProcess() { Kill(); }

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(o.pid_), stdout_fd_(o.stdout_fd_), address_(std::move(o.address_)),
      http_address_(std::move(o.http_address_)),
      log_file_(std::move(o.log_file_)) {
  o.pid_ = -1;
  o.stdout_fd_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    Kill();
    pid_ = o.pid_;
    stdout_fd_ = o.stdout_fd_;
    address_ = std::move(o.address_);
    http_address_ = std::move(o.http_address_);
    log_file_ = std::move(o.log_file_);
    o.pid_ = -1;
    o.stdout_fd_ = -1;
  }
  return *this;
}

Result<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv, const std::string& log_file,
                                         int timeout_ms) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return Status::IOError("pipe failed");
  pid_t pid = fork();
  if (pid < 0) return Status::IOError("fork failed");
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    int log = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) dup2(log, 2);
    close(out_pipe[0]);
    close(out_pipe[1]);
    // Unblock signals the test framework may have blocked.
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    auto args = MakeArgv(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  ChildProcess child;
  child.pid_ = pid;
  child.stdout_fd_ = out_pipe[0];
  child.log_file_ = log_file;
  std::string buffer;
  const int64_t deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    pollfd p{child.stdout_fd_, POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r > 0) {
      char buf[512];
      ssize_t n = read(child.stdout_fd_, buf, sizeof(buf));
      if (n <= 0) break;
      buffer.append(buf, static_cast<size_t>(n));
      auto pos = buffer.find("listening on ");
      if (pos != std::string::npos) {
        auto end = buffer.find('\n', pos);
        if (end != std::string::npos) {
          child.address_ = buffer.substr(pos + 13, end - pos - 13);
          if (auto http = buffer.find("http on "); http != std::string::npos && http < pos) {
            child.http_address_ = buffer.substr(http + 8, buffer.find('\n', http) - http - 8);
          }
          return child;
        }
      }
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      child.pid_ = -1;
      return Status::Unavailable(fmt::format("{} exited before it was ready (status {}); log: {}", argv[0], status,
                                             log_file));
    }
  }
  return Status::DeadlineExceeded(fmt::format("{} did not print its listening line in time; log: {}", argv[0], log_file));
}

int ChildProcess::Terminate(int timeout_ms) {
  if (pid_ < 0) return -1;
  kill(pid_, SIGTERM);
  const int64_t deadline = NowMs() + timeout_ms;
  int status = 0;
  while (NowMs() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (stdout_fd_ >= 0) close(stdout_fd_);
      stdout_fd_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return -SIGKILL;
}

void ChildProcess::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

bool ChildProcess::running() {
  if (pid_ < 0) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return result;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    auto args = MakeArgv(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  const int64_t deadline = NowMs() + timeout_ms;
  bool out_open = true, err_open = true;
  while ((out_open || err_open) && NowMs() < deadline) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    poll(fds, 2, 100);
    char buf[4096];
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) {
      ssize_t n = read(out_pipe[0], buf, sizeof(buf));
      if (n <= 0) out_open = false; else result.out.append(buf, static_cast<size_t>(n));
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) {
      ssize_t n = read(err_pipe[0], buf, sizeof(buf));
      if (n <= 0) err_open = false; else result.err.append(buf, static_cast<size_t>(n));
    }
  }
  if (out_open || err_open) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(out_pipe[0]);
  close(err_pipe[0]);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

pid_t SpawnToFiles(const std::vector<std::string>& argv, const std::string& out_file, const std::string& err_file) {
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out, 1);
    dup2(err, 2);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    auto args = MakeArgv(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  int status = 0;
  while (NowMs() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

}  // namespace vela::testing
