#include "agent/log.hpp"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace avn::agent {

namespace {

log_sink g_sink = log_sink::stderr_stream;
log_level g_min = log_level::info;
int g_fd = STDERR_FILENO;

const char* level_name(log_level l) {
    switch (l) {
        case log_level::debug:
            return "debug";
        case log_level::info:
            return "info";
        case log_level::warning:
            return "warning";
        case log_level::error:
            return "error";
    }
    return "info";
}

int syslog_priority(log_level l) {
    switch (l) {
        case log_level::debug:
            return LOG_DEBUG;
        case log_level::info:
            return LOG_INFO;
        case log_level::warning:
            return LOG_WARNING;
        case log_level::error:
            return LOG_ERR;
    }
    return LOG_INFO;
}

}  // namespace

std::optional<std::string> log_open(log_sink sink, log_level min_level, const std::string& file) {
    g_sink = sink;
    g_min = min_level;
    if (sink == log_sink::syslog) {
        ::openlog("avn-agent", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
    } else if (sink == log_sink::file) {
        const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            g_sink = log_sink::stderr_stream;
            return "cannot open the log file " + file + ": " + std::strerror(errno);
        }
        g_fd = fd;
    }
    return std::nullopt;
}

void log_write(log_level level, std::string_view message) {
    if (level < g_min) {
        return;
    }
    std::string text(message);
    for (char& c : text) {
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f') {
            c = '?';
        }
    }
    if (g_sink == log_sink::syslog) {
        ::syslog(syslog_priority(level), "%s", text.c_str());
        return;
    }
    // One write(2) per line so concurrent writers never interleave lines.
    char stamp[32] = "";
    if (g_sink == log_sink::file) {
        std::time_t now = std::time(nullptr);
        std::tm tm{};
        ::gmtime_r(&now, &tm);
        std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    }
    std::string line;
    line.reserve(message.size() + 64);
    line += stamp;
    line += "avn-agent[";
    line += std::to_string(::getpid());
    line += "]: ";
    line += level_name(level);
    line += ": ";
    line += text;
    line += '\n';
    ssize_t ignored = ::write(g_fd, line.data(), line.size());
    (void)ignored;
}

}  // namespace avn::agent
