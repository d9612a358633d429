// avn-user's exit codes. 0, 1 and 2 are avn's; 3 is ours. Documented in
// README.md ("Exit codes"); never renumber.
#pragma once

namespace avn::helper {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;    ///< the command ran and failed
inline constexpr int exit_usage = 2;     ///< bad command line (and Ctrl-C, as avn)
inline constexpr int exit_no_agent = 3;  ///< no agent answered on the socket

}  // namespace avn::helper
