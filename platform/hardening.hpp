// Process hardening for a daemon that holds secrets.
#pragma once

#include "platform/result.hpp"

namespace avn::platform {

/// Makes the process not dumpable (no core files, no same-uid ptrace, its
/// /proc files owned by root), sets RLIMIT_CORE to 0, ignores SIGPIPE and
/// raises the soft open-file limit to the hard one. Call first in main().
result<void> harden_process();

}  // namespace avn::platform
