#include "platform/socket_path.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace avn::platform {

namespace {

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
}

result<void> check_private_dir(const std::string& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        return errno_error("cannot inspect socket folder " + dir, errno);
    }
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
        return os_error{"socket folder " + dir +
                        " is not a plain directory (a symlink or a file); remove it (rm " +
                        shell_quote(dir) + ") and start the agent again"};
    }
    if (st.st_uid != ::geteuid()) {
        return os_error{"socket folder " + dir + " is owned by uid " + std::to_string(st.st_uid) +
                        ", not by you (uid " + std::to_string(::geteuid()) +
                        "); remove it or set AVN_AGENT_SOCK to a path in a folder of yours"};
    }
    if ((st.st_mode & 077) != 0) {
        return os_error{"socket folder " + dir + " is open to group or others (mode " +
                        octal_mode(st.st_mode) + "); fix it with: chmod 700 " + shell_quote(dir)};
    }
    return {};
}

result<void> check_named_dir(const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        return errno_error("cannot use socket folder " + dir + " (from AVN_AGENT_SOCK)", errno);
    }
    if (!S_ISDIR(st.st_mode)) {
        return os_error{"socket folder " + dir + " (from AVN_AGENT_SOCK) is not a directory"};
    }
    if (st.st_uid != ::geteuid() && st.st_uid != 0) {
        return os_error{"socket folder " + dir + " (from AVN_AGENT_SOCK) is owned by uid " +
                        std::to_string(st.st_uid) + "; use a folder of yours"};
    }
    if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0) {
        return os_error{"socket folder " + dir +
                        " (from AVN_AGENT_SOCK) is writable by others (mode " +
                        octal_mode(st.st_mode) +
                        "): anyone could replace the socket; fix it with: chmod go-w " +
                        shell_quote(dir) + ", or use a private folder"};
    }
    return {};
}

}  // namespace

std::string octal_mode(mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

socket_location default_socket_location() {
    socket_location loc;
    if (std::string explicit_path = env_or_empty("AVN_AGENT_SOCK"); !explicit_path.empty()) {
        loc.path = explicit_path;
        const auto slash = explicit_path.rfind('/');
        loc.dir = slash == std::string::npos ? "."
                  : slash == 0               ? "/"
                                             : explicit_path.substr(0, slash);
        loc.private_dir = false;
        return loc;
    }
    if (std::string runtime = env_or_empty("XDG_RUNTIME_DIR");
        !runtime.empty() && runtime[0] == '/') {
        loc.dir = runtime + "/avn-agent";
    } else {
        loc.dir = "/tmp/avn-agent-" + std::to_string(::geteuid());
    }
    loc.path = loc.dir + "/agent.sock";
    loc.private_dir = true;
    return loc;
}

result<void> prepare_socket_dir(const socket_location& loc) {
    if (!loc.private_dir) {
        // A folder named by AVN_AGENT_SOCK that does not exist yet is
        // created as a private one (its parent must exist).
        if (::mkdir(loc.dir.c_str(), 0700) == 0) {
            return check_private_dir(loc.dir);
        }
        return check_named_dir(loc.dir);
    }
    // mkdir with 0700 creates the folder private from its first instant; a
    // chmod afterwards would leave a window in which another user could
    // open it.
    if (::mkdir(loc.dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return errno_error("cannot create socket folder " + loc.dir, errno);
    }
    return check_private_dir(loc.dir);
}

std::string shell_quote(const std::string& s) {
    const bool safe = !s.empty() && s.find_first_not_of(
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "abcdefghijklmnopqrstuvwxyz"
                                        "0123456789_-.,/:@%+=") == std::string::npos;
    if (safe) {
        return s;
    }
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

}  // namespace avn::platform
