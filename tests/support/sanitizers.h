#pragma once

// VELA_UNDER_ASAN is 1 in a build with AddressSanitizer, 0 otherwise: gcc defines
// __SANITIZE_ADDRESS__, clang answers __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define VELA_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VELA_UNDER_ASAN 1
#endif
#endif
#ifndef VELA_UNDER_ASAN
#define VELA_UNDER_ASAN 0
#endif
