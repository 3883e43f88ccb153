// The console's files, embedded: console_<name>_generated.h is written by CMake from each file
// (cmake/embed_text.cmake) as one raw string literal.
#include <string_view>

#include "broker/console/console_api.h"
#include "console_kConsolePageHtml_generated.h"
#include "console_kConsoleScriptJs_generated.h"
#include "console_kConsoleStyleCss_generated.h"

namespace vela::broker {

std::string_view ConsolePageHtml() { return {kConsolePageHtml, sizeof(kConsolePageHtml) - 1}; }
std::string_view ConsoleScriptJs() { return {kConsoleScriptJs, sizeof(kConsoleScriptJs) - 1}; }
std::string_view ConsoleStyleCss() { return {kConsoleStyleCss, sizeof(kConsoleStyleCss) - 1}; }

}  // namespace vela::broker
