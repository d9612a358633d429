// Where the agent's socket lives, and the safety checks on its folder.
#pragma once

#include <sys/types.h>

#include <string>

#include "platform/result.hpp"

namespace avn::platform {

struct socket_location {
    std::string path;  ///< the socket file
    std::string dir;   ///< the folder holding it
    /// True when the folder is the agent's own (…/avn-agent or
    /// /tmp/avn-agent-UID): created 0700 and required to stay private.
    /// False for a folder named through AVN_AGENT_SOCK.
    bool private_dir = true;
};

/// `$AVN_AGENT_SOCK`, else `$XDG_RUNTIME_DIR/avn-agent/agent.sock`, else
/// `/tmp/avn-agent-<uid>/agent.sock`. Reads the environment; touches nothing.
socket_location default_socket_location();

/// Makes sure the socket's folder exists and is safe:
/// - a private folder is created with mode 0700 by mkdir itself (no window in
///   which it is open); an existing one must be a real directory (not a
///   symlink) owned by us with no group/other permissions;
/// - a folder named by AVN_AGENT_SOCK must be owned by us or root and must not
///   be writable by others unless it is sticky (like /tmp).
/// Errors say what is wrong and the command that fixes it.
result<void> prepare_socket_dir(const socket_location& loc);

/// Quotes `s` for a POSIX shell when it holds anything but safe characters.
std::string shell_quote(const std::string& s);

/// A file mode's permission bits as four octal digits ("0755"), for messages.
std::string octal_mode(mode_t m);

}  // namespace avn::platform
