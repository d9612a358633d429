// ISO 8601 UTC times as the Aiven API writes them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace avn::agent {

using sys_time = std::chrono::system_clock::time_point;

/// "2021-08-16T16:26:10Z", with optional fractional seconds, or "+00:00"
/// for the "Z"; nullopt otherwise.
std::optional<sys_time> parse_iso8601(std::string_view s);
/// "2021-08-16T16:26:10Z" (whole seconds).
std::string format_iso8601(sys_time t);

}  // namespace avn::agent
