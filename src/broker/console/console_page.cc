// The console's page, embedded: console_page_generated.h is written by CMake from index.html
// (cmake/embed_text.cmake) as one raw string literal, kConsolePageHtml.
#include <string_view>

#include "broker/console/console_api.h"
#include "console_page_generated.h"

namespace vela::broker {

std::string_view ConsolePageHtml() { return {kConsolePageHtml, sizeof(kConsolePageHtml) - 1}; }

}  // namespace vela::broker
