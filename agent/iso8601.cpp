#include "agent/iso8601.hpp"

#include <cstdio>
#include <ctime>
#include <string>

namespace avn::agent {

std::optional<sys_time> parse_iso8601(std::string_view s) {
    int y, mo, d, h, mi, sec, used = 0;
    const std::string text(s);
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) !=
            6 ||
        used != 19) {
        return std::nullopt;
    }
    std::string_view rest = s.substr(19);
    std::int64_t micros = 0;
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        int digits = 0;
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
            if (digits < 6) {
                micros = micros * 10 + (rest.front() - '0');
                ++digits;
            }
            rest.remove_prefix(1);
        }
        while (digits++ < 6) {
            micros *= 10;
        }
    }
    if (rest != "Z" && rest != "+00:00") {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    const std::time_t t = ::timegm(&tm);
    return std::chrono::system_clock::from_time_t(t) + std::chrono::microseconds(micros);
}

std::string format_iso8601(sys_time t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace avn::agent
