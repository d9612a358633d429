#include "agent/iso8601.hpp"

#include <chrono>
#include <cstdio>
#include <string>

namespace avn::agent {

std::optional<sys_time> parse_iso8601(std::string_view s) {
    // "YYYY-MM-DDTHH:MM:SS", digits exactly where they belong (no sign, no
    // space), then optional fractional seconds and "Z" or "+00:00".
    if (s.size() < 20) {
        return std::nullopt;
    }
    const auto number = [&s](std::size_t at, std::size_t width) -> std::optional<int> {
        int v = 0;
        for (std::size_t i = at; i < at + width; ++i) {
            if (s[i] < '0' || s[i] > '9') {
                return std::nullopt;
            }
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    const auto y = number(0, 4), mo = number(5, 2), d = number(8, 2);
    const auto h = number(11, 2), mi = number(14, 2), sec = number(17, 2);
    if (!y || !mo || !d || !h || !mi || !sec || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':') {
        return std::nullopt;
    }
    using namespace std::chrono;
    const year_month_day ymd{year(*y), month(static_cast<unsigned>(*mo)),
                             day(static_cast<unsigned>(*d))};
    if (!ymd.ok() || *h > 23 || *mi > 59 || *sec > 60) {  // 60: a leap second
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
        if (digits == 0) {
            return std::nullopt;
        }
        while (digits++ < 6) {
            micros *= 10;
        }
    }
    if (rest != "Z" && rest != "+00:00") {
        return std::nullopt;
    }
    return sys_days(ymd) + hours(*h) + minutes(*mi) + seconds(*sec) + microseconds(micros);
}

std::string format_iso8601(sys_time t) {
    // By hand rather than with strftime: `status` and `token` replies format
    // several times per request, and strftime costs more than the rest of a
    // `token` reply.
    using namespace std::chrono;
    const auto secs = floor<seconds>(t);
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const hh_mm_ss hms{secs - day};
    const int y = static_cast<int>(ymd.year());
    if (y < 0 || y > 9999) {  // far outside what the API sends
        char buf[64];
        std::snprintf(
            buf, sizeof buf, "%d-%02u-%02uT%02d:%02d:%02dZ", y, static_cast<unsigned>(ymd.month()),
            static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
            static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
        return buf;
    }
    std::string out = "0000-00-00T00:00:00Z";
    const auto put = [&out](std::size_t at, unsigned v, int width) {
        for (int i = width - 1; i >= 0; --i, v /= 10) {
            out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
        }
    };
    put(0, static_cast<unsigned>(y), 4);
    put(5, static_cast<unsigned>(ymd.month()), 2);
    put(8, static_cast<unsigned>(ymd.day()), 2);
    put(11, static_cast<unsigned>(hms.hours().count()), 2);
    put(14, static_cast<unsigned>(hms.minutes().count()), 2);
    put(17, static_cast<unsigned>(hms.seconds().count()), 2);
    return out;
}

}  // namespace avn::agent
