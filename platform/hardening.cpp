#include "platform/hardening.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <csignal>

namespace avn::platform {

result<void> harden_process() {
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        return errno_error("prctl(PR_SET_DUMPABLE, 0) failed", errno);
    }
    rlimit no_core{0, 0};
    if (::setrlimit(RLIMIT_CORE, &no_core) != 0) {
        return errno_error("cannot disable core files (setrlimit RLIMIT_CORE)", errno);
    }
    // A client that hangs up mid-reply must cost an EPIPE, not the agent.
    std::signal(SIGPIPE, SIG_IGN);
    // One descriptor per client: allow as many as the hard limit does.
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
    }
    return {};
}

}  // namespace avn::platform
