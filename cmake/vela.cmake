# vela_cc_library(NAME x SRCS ... DEPS PUBLIC ... PRIVATE ... [PCH headers...])
# Declares the library of one module, target vela_<name> with alias vela::<name>.
set(VELA_WARNINGS -Wall -Wextra)
if(VELA_WERROR)
  list(APPEND VELA_WARNINGS -Werror)
endif()

# Precompiled headers: the standard and third-party headers most files of a target include, parsed
# once per target instead of once per file. Measured on one file of the broker: clang -O0 (the
# sanitizer build) 8.5 s -> 3.7 s, gcc -O2 14.3 s -> 11.3 s; modules with light headers (common,
# store) gain nothing, so only the targets that name a list get one. VELA_PCH_NET adds Asio and
# the protocol's messages, for targets that link vela::net (which defines ASIO_STANDALONE).
# On by default with clang only: with gcc 12 the gain is small, each header is 250 MB, and the
# changed inlining raises false -Warray-bounds errors inside std::string.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(VELA_PCH_DEFAULT ON)
else()
  set(VELA_PCH_DEFAULT OFF)
endif()
option(VELA_PRECOMPILED_HEADERS "Precompile the common headers of each target (faster clean builds)" ${VELA_PCH_DEFAULT})
set(VELA_PCH_BASE <algorithm> <atomic> <chrono> <cstdint> <functional> <map> <memory> <mutex> <optional> <string>
  <string_view> <unordered_map> <vector> <fmt/format.h> <spdlog/spdlog.h>)
set(VELA_PCH_NET ${VELA_PCH_BASE} <asio.hpp> [["vela/v1/vela.pb.h"]])

# vela_precompile(TARGET headers...): precompiles `headers` for TARGET when the option is on.
function(vela_precompile target)
  if(VELA_PRECOMPILED_HEADERS)
    target_precompile_headers(${target} PRIVATE ${ARGN})
  endif()
endfunction()

function(vela_cc_library)
  cmake_parse_arguments(V "" "NAME" "SRCS;DEPS;PCH" ${ARGN})
  if(NOT V_SRCS)
    # A module still being written: keep the target so dependents configure.
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/empty_${V_NAME}.cc "")
    set(V_SRCS ${CMAKE_CURRENT_BINARY_DIR}/empty_${V_NAME}.cc)
  endif()
  add_library(vela_${V_NAME} STATIC ${V_SRCS})
  add_library(vela::${V_NAME} ALIAS vela_${V_NAME})
  target_compile_options(vela_${V_NAME} PRIVATE ${VELA_WARNINGS})
  if(V_DEPS)
    target_link_libraries(vela_${V_NAME} ${V_DEPS})
  endif()
  if(V_PCH)
    vela_precompile(vela_${V_NAME} ${V_PCH})
  endif()
endfunction()

# vela_cc_binary(NAME x SRCS ... DEPS ... [PCH headers...])
function(vela_cc_binary)
  cmake_parse_arguments(V "" "NAME" "SRCS;DEPS;PCH" ${ARGN})
  add_executable(${V_NAME} ${V_SRCS})
  target_compile_options(${V_NAME} PRIVATE ${VELA_WARNINGS})
  target_link_libraries(${V_NAME} PRIVATE ${V_DEPS})
  if(V_PCH)
    vela_precompile(${V_NAME} ${V_PCH})
  endif()
endfunction()

# vela_cc_test(NAME x SRCS ... DEPS ... LABEL unit|integration [PCH headers...]); GoogleTest is
# added to the precompiled headers.
function(vela_cc_test)
  cmake_parse_arguments(V "" "NAME;LABEL" "SRCS;DEPS;PCH" ${ARGN})
  add_executable(${V_NAME} ${V_SRCS})
  target_compile_options(${V_NAME} PRIVATE ${VELA_WARNINGS})
  target_link_libraries(${V_NAME} PRIVATE ${V_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  if(V_PCH)
    vela_precompile(${V_NAME} ${V_PCH} <gtest/gtest.h>)
  endif()
  if(NOT V_LABEL)
    set(V_LABEL unit)
  endif()
  # A hung test fails after two minutes instead of stalling the suite.
  gtest_discover_tests(${V_NAME} PROPERTIES LABELS ${V_LABEL} TIMEOUT 120 DISCOVERY_TIMEOUT 60)
endfunction()
