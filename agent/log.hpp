// The agent's log. Lines are built by the caller from non-secret values only:
// platform::secret has no stream or string conversion, so a token cannot end
// up here by accident. Control characters in a message (text the API sent,
// say) are written as '?', so no message can forge a line of its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace avn::agent {

enum class log_level : unsigned char { debug, info, warning, error };

enum class log_sink : unsigned char {
    stderr_stream,  ///< foreground (-D) and systemd (journald reads stderr)
    syslog,         ///< background without --log-file
    file,           ///< --log-file
};

/// Configures the process-wide log. Not thread-safe; call before serving.
/// Returns why `file` cannot be opened (the log then stays on stderr).
std::optional<std::string> log_open(log_sink sink, log_level min_level,
                                    const std::string& file = {});
void log_write(log_level level, std::string_view message);

inline void log_debug(std::string_view m) {
    log_write(log_level::debug, m);
}
inline void log_info(std::string_view m) {
    log_write(log_level::info, m);
}
inline void log_warning(std::string_view m) {
    log_write(log_level::warning, m);
}
inline void log_error(std::string_view m) {
    log_write(log_level::error, m);
}

}  // namespace avn::agent
