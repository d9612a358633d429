// Load and connection-count benchmarks for avn-agent.
//
//   avn_bench_throughput load SOCKET CONNS SECONDS [WARMUP_SECONDS]
//       CONNS connections, each sending {"v":1,"id":N,"op":"token","args":{"min_ttl":60}}
//       back to back (the next request once the reply to the previous one is in), all driven
//       by one epoll thread. Replies are counted for SECONDS after a warm-up. Prints one line
//       of JSON: replies, errors, requests per second and reply latency percentiles.
//
//   avn_bench_throughput hold SOCKET CONNS
//       Opens CONNS connections, makes one `hello` round trip on each (so the agent has
//       accepted and served every one), prints {"held":CONNS} and keeps them open, silent,
//       until its stdin reaches end of file.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "platform/unix_socket.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

std::string token_request(unsigned long long id) {
    return R"({"v":1,"id":)" + std::to_string(id) + R"(,"op":"token","args":{"min_ttl":60}})" +
           "\n";
}

struct connection {
    avn::platform::unique_fd fd;
    std::string inbox;
    unsigned long long next_id = 1;
    clock_type::time_point sent;
};

int load(const char* socket, int conns, double seconds, double warmup) {
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        std::perror("epoll_create1");
        return 1;
    }
    std::vector<connection> cs(static_cast<std::size_t>(conns));
    for (std::size_t i = 0; i < cs.size(); ++i) {
        auto fd = avn::platform::connect_unix(socket, std::chrono::seconds(5));
        if (!fd) {
            std::fprintf(stderr, "connection %zu: %s\n", i, fd.error().message.c_str());
            return 1;
        }
        cs[i].fd = std::move(*fd);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd.get(), &ev) != 0) {
            std::perror("epoll_ctl");
            return 1;
        }
    }
    const auto start = clock_type::now();
    const auto measure_from = start + std::chrono::duration_cast<clock_type::duration>(
                                          std::chrono::duration<double>(warmup));
    const auto measure_to = measure_from + std::chrono::duration_cast<clock_type::duration>(
                                               std::chrono::duration<double>(seconds));
    auto send = [&](connection& c) {
        const std::string line = token_request(c.next_id++);
        c.sent = clock_type::now();
        return write_all(c.fd.get(), line.data(), line.size());
    };
    for (auto& c : cs) {
        if (!send(c)) {
            std::fprintf(stderr, "write failed\n");
            return 1;
        }
    }
    long long replies = 0;
    long long errors = 0;
    std::string first_error;
    std::vector<double> us;
    us.reserve(1 << 20);
    std::array<epoll_event, 256> events;
    std::array<char, 65536> buf;
    for (;;) {
        const auto now = clock_type::now();
        if (now >= measure_to) {
            break;
        }
        const int timeout_ms = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(measure_to - now).count() + 1);
        const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::perror("epoll_wait");
            return 1;
        }
        for (int e = 0; e < n; ++e) {
            connection& c = cs[events[static_cast<std::size_t>(e)].data.u64];
            const ssize_t got = ::read(c.fd.get(), buf.data(), buf.size());
            if (got <= 0) {
                std::fprintf(stderr, "the agent closed a connection after %llu requests\n",
                             c.next_id - 1);
                return 1;
            }
            c.inbox.append(buf.data(), static_cast<std::size_t>(got));
            bool answered = false;
            for (auto nl = c.inbox.find('\n'); nl != std::string::npos; nl = c.inbox.find('\n')) {
                const auto t = clock_type::now();
                const std::string_view reply(c.inbox.data(), nl);
                const bool ok = reply.find(R"("result":)") != std::string_view::npos;
                if (t >= measure_from && t < measure_to) {
                    ++replies;
                    us.push_back(std::chrono::duration<double, std::micro>(t - c.sent).count());
                    if (!ok) {
                        ++errors;
                    }
                }
                if (!ok && first_error.empty()) {
                    first_error = std::string(reply);
                }
                c.inbox.erase(0, nl + 1);
                answered = true;
            }
            if (answered && !send(c)) {
                std::fprintf(stderr, "write failed\n");
                return 1;
            }
        }
    }
    ::close(ep);
    if (!first_error.empty()) {
        std::fprintf(stderr, "an error reply: %s\n", first_error.c_str());
    }
    std::sort(us.begin(), us.end());
    auto pct = [&](double p) {
        return us.empty() ? 0.0
                          : us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))];
    };
    std::printf(
        "{\"conns\":%d,\"seconds\":%.1f,\"replies\":%lld,\"errors\":%lld,\"rps\":%.0f,"
        "\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
        conns, seconds, replies, errors, static_cast<double>(replies) / seconds, pct(0.5),
        pct(0.99));
    return errors == 0 ? 0 : 1;
}

int hold(const char* socket, int conns) {
    std::vector<avn::platform::unique_fd> fds;
    fds.reserve(static_cast<std::size_t>(conns));
    const std::string hello = "{\"v\":1,\"id\":1,\"op\":\"hello\"}\n";
    std::array<char, 65536> buf;
    for (int i = 0; i < conns; ++i) {
        auto fd = avn::platform::connect_unix(socket, std::chrono::seconds(5));
        if (!fd) {
            std::fprintf(stderr, "connection %d: %s\n", i, fd.error().message.c_str());
            return 1;
        }
        if (!write_all(fd->get(), hello.data(), hello.size())) {
            std::fprintf(stderr, "connection %d: write failed\n", i);
            return 1;
        }
        std::string inbox;
        while (inbox.find('\n') == std::string::npos) {
            const ssize_t n = ::read(fd->get(), buf.data(), buf.size());
            if (n <= 0) {
                std::fprintf(stderr, "connection %d: closed before the reply\n", i);
                return 1;
            }
            inbox.append(buf.data(), static_cast<std::size_t>(n));
        }
        if (inbox.find(R"("result":)") == std::string::npos) {
            std::fprintf(stderr, "connection %d: %s", i, inbox.c_str());
            return 1;
        }
        fds.push_back(std::move(*fd));
    }
    std::printf("{\"held\":%d}\n", conns);
    std::fflush(stdout);
    while (::read(STDIN_FILENO, buf.data(), buf.size()) > 0) {
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "load" && argc >= 5) {
        return load(argv[2], std::atoi(argv[3]), std::atof(argv[4]),
                    argc > 5 ? std::atof(argv[5]) : 0.5);
    }
    if (mode == "hold" && argc == 4) {
        return hold(argv[2], std::atoi(argv[3]));
    }
    std::fprintf(stderr,
                 "usage: %s load SOCKET CONNS SECONDS [WARMUP_SECONDS]\n"
                 "       %s hold SOCKET CONNS\n",
                 argv[0], argv[0]);
    return 2;
}
