// Measures request round trips on one open connection, for avn-agent (a
// protocol request line) and, as the anchor, ssh-agent (SSH2_AGENTC_REQUEST_
// IDENTITIES). Prints one line of JSON with the percentiles in microseconds.
//
//   avn_bench_roundtrip avn SOCKET [COUNT] [OP]
//   avn_bench_roundtrip ssh SOCKET [COUNT]
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "platform/unix_socket.hpp"

namespace {

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// One avn-agent round trip: a request line out, a reply line back.
bool avn_round_trip(int fd, const std::string& line, std::string& inbox) {
    if (!write_all(fd, line.data(), line.size())) {
        return false;
    }
    std::array<char, 65536> buf;
    for (;;) {
        if (const auto nl = inbox.find('\n'); nl != std::string::npos) {
            inbox.erase(0, nl + 1);
            return true;
        }
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) {
            return false;
        }
        inbox.append(buf.data(), static_cast<std::size_t>(n));
    }
}

// One ssh-agent round trip: a 5-byte request, a length-prefixed answer.
bool ssh_round_trip(int fd) {
    const char req[5] = {0, 0, 0, 1, 11};
    if (!write_all(fd, req, sizeof req)) {
        return false;
    }
    unsigned char len[4];
    std::size_t got = 0;
    while (got < 4) {
        const ssize_t n = ::read(fd, len + got, 4 - got);
        if (n <= 0) {
            return false;
        }
        got += static_cast<std::size_t>(n);
    }
    std::size_t body = (std::size_t{len[0]} << 24) | (std::size_t{len[1]} << 16) |
                       (std::size_t{len[2]} << 8) | len[3];
    std::array<char, 65536> buf;
    while (body > 0) {
        const ssize_t n = ::read(fd, buf.data(), std::min(body, buf.size()));
        if (n <= 0) {
            return false;
        }
        body -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s avn|ssh SOCKET [COUNT] [OP]\n", argv[0]);
        return 2;
    }
    const std::string kind = argv[1];
    const int count = argc > 3 ? std::atoi(argv[3]) : 20000;
    const std::string op = argc > 4 ? argv[4] : "status";
    auto fd = avn::platform::connect_unix(argv[2], std::chrono::seconds(5));
    if (!fd) {
        std::fprintf(stderr, "%s\n", fd.error().message.c_str());
        return 1;
    }
    std::string inbox;
    const std::string line = R"({"v":1,"id":1,"op":")" + op + "\"}\n";
    std::vector<double> us;
    us.reserve(static_cast<std::size_t>(count));
    const int warmup = std::max(count / 10, 10);
    for (int i = 0; i < count + warmup; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const bool ok =
            kind == "ssh" ? ssh_round_trip(fd->get()) : avn_round_trip(fd->get(), line, inbox);
        const auto t1 = std::chrono::steady_clock::now();
        if (!ok) {
            std::fprintf(stderr, "connection failed after %d round trips\n", i);
            return 1;
        }
        if (i >= warmup) {
            us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        }
    }
    std::sort(us.begin(), us.end());
    auto pct = [&](double p) {
        return us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))];
    };
    std::printf("{\"kind\":\"%s\",\"count\":%d,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f}\n",
                kind.c_str(), count, pct(0.5), pct(0.9), pct(0.99));
    return 0;
}
