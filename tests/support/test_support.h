#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "common/result.h"
#include "common/status.h"

// Test helpers shared by every test binary: status assertions, temporary directories, free ports.

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    ::vela::Status s__ = (expr);                             \
    ASSERT_TRUE(s__.ok()) << #expr << ": " << s__.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                      \
  do {                                                       \
    ::vela::Status s__ = (expr);                             \
    EXPECT_TRUE(s__.ok()) << #expr << ": " << s__.ToString(); \
  } while (0)
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                        \
  auto VELA_CONCAT_(r__, __LINE__) = (expr);                                   \
  ASSERT_TRUE(VELA_CONCAT_(r__, __LINE__).ok()) << #expr << ": "               \
                                                << VELA_CONCAT_(r__, __LINE__).status().ToString(); \
  lhs = std::move(VELA_CONCAT_(r__, __LINE__)).value()

namespace vela::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// The whole content of a file ("" when it cannot be read): logs, outputs.
std::string ReadFile(const std::string& path);

// Whether `bytes` hold a whole HTTP response: its headers and a Content-Length body. A test
// reading a kept-alive connection stops there instead of waiting for the server's idle timeout.
bool HttpResponseComplete(const std::string& bytes);

// Polls `done` every `poll` until it holds or `timeout` passes; returns whether it held at the end.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(60),
               std::chrono::milliseconds poll = std::chrono::milliseconds(50));

}  // namespace vela::testing
