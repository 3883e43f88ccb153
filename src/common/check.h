#pragma once

#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

// VELA_CHECK(cond, fmt, args...): an invariant that only a bug can break. Logs and aborts.
// Corruption found on disk or bad input from a peer is never a CHECK: it is a Status.
#define VELA_CHECK(cond, ...)                                                            \
  do {                                                                                   \
    if (!(cond)) [[unlikely]] {                                                          \
      spdlog::critical("check failed at {}:{}: {}: {}", __FILE__, __LINE__, #cond,       \
                       fmt::format(__VA_ARGS__));                                        \
      spdlog::default_logger()->flush();                                                 \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
