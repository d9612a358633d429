// Fuzzes the protocol decoder with arbitrary bytes, fed in arbitrary splits,
// and checks its invariants: bounded buffering, every request re-encodes and
// decodes back to itself, a fatal error ends the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/codec.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace avn::protocol;
    if (size == 0) {
        return 0;
    }
    limits lim;
    lim.max_line_bytes = 4096;  // small, so the fuzzer reaches the limit
    frame_decoder d(lim);
    // The first byte picks the chunk size: splits must not change results.
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    for (std::size_t off = 0; off < bytes.size(); off += chunk) {
        d.feed(bytes.substr(off, chunk));
        for (;;) {
            decode_result r = d.next();
            if (r.what == decode_result::kind::need_more) {
                break;
            }
            if (r.what == decode_result::kind::error) {
                check(!r.err.message.empty());
                check(r.fatal == is_fatal(r.err.code));
                wiping_buffer out;
                encode_error(out, r.id, r.err);
                reply back;
                std::string why;
                check(decode_reply(out.view().substr(0, out.size() - 1), back, why));
                check(!back.ok && back.err.code == r.err.code);
                if (r.fatal) {
                    check(d.failed() && d.buffered() == 0);
                    return 0;
                }
                continue;
            }
            // A decoded request survives a round trip through the encoder.
            wiping_buffer out;
            encode_request(out, r.req.id, r.req.op, r.req.args);
            frame_decoder again(lim);
            again.feed(out.view());
            decode_result r2 = again.next();
            check(r2.what == decode_result::kind::request);
            check(r2.req.op == r.req.op && r2.req.id == r.req.id && r2.req.args == r.req.args);
        }
        check(d.buffered() <= lim.max_line_bytes + chunk);
    }
    return 0;
}
