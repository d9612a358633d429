// Fuzzes the parsers of the other untrusted text: reply lines as a client
// reads them from a socket (protocol::decode_reply) and the API's ISO 8601
// times (agent/iso8601), which drive token lifetimes. The first byte picks the
// parser. Invariants: no crash; a reply is either ok or carries a code; a
// time that parses formats back to a string that parses to the same second.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/iso8601.hpp"
#include "protocol/codec.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] % 2 == 0) {
        avn::protocol::reply r;
        std::string why;
        if (avn::protocol::decode_reply(text, r, why)) {
            check(r.ok || !r.code_text.empty());
        } else {
            check(!why.empty());
        }
        return 0;
    }
    if (const auto t = avn::agent::parse_iso8601(text)) {
        const auto again = avn::agent::parse_iso8601(avn::agent::format_iso8601(*t));
        check(again.has_value());
        check(std::chrono::floor<std::chrono::seconds>(*again) ==
              std::chrono::floor<std::chrono::seconds>(*t));
    }
    return 0;
}
