#include "platform/store_select.hpp"

#include <utility>

#include "platform/file_store.hpp"
#include "platform/secret_service_store.hpp"

namespace avn::platform {

namespace {

store_result<store_choice> open_file_store(const store_options& options, std::string why,
                                           bool loud) {
    file_store_options fo;
    fo.dir = options.file_dir.empty() ? default_file_store_dir() : options.file_dir;
    auto store = std::make_unique<file_store>(std::move(fo));
    // Refuse a folder or file open to others now, at start, rather than at
    // the first login.
    if (auto ok = store->check(); !ok) {
        return ok.error();
    }
    why += store->path();
    why += " (mode 0600)";
    return store_choice{std::move(store), "file", std::move(why), loud};
}

}  // namespace

store_result<void> probe_secret_service(std::chrono::milliseconds timeout) {
    // A store of its own with the probe's deadline: the probe then bounds
    // the connection and the question exactly like a real call.
    secret_service_store probe(timeout);
    return probe.ping();
}

store_result<store_choice> open_store(std::string_view requested, const store_options& options) {
    if (requested == "memory") {
        return store_choice{make_memory_store(), "memory",
                            "--keyring memory: nothing persists; a restart forgets the session",
                            false};
    }
    if (requested == "file") {
        return open_file_store(options, "--keyring file: secrets are kept in ", false);
    }
    if (requested == "secret-service" || requested == "auto") {
        auto probe = probe_secret_service(options.probe_timeout);
        if (probe) {
            return store_choice{std::make_unique<secret_service_store>(options.call_deadline),
                                "secret-service",
                                requested == "auto" ? "a Secret Service answers on the session bus"
                                                    : "--keyring secret-service",
                                false};
        }
        if (requested == "secret-service") {
            return store_error{probe.error().code,
                               "--keyring secret-service: " + probe.error().message};
        }
        auto file = open_file_store(
            options, probe.error().message + "; secrets are kept in the plain file ", true);
        if (!file) {
            return store_error{file.error().code, file.error().message +
                                                      " (the file store is the fallback: " +
                                                      probe.error().message + ")"};
        }
        return file;
    }
    return store_error{store_errc::unavailable,
                       "unknown keyring backend '" + std::string(requested) +
                           "' (expected auto, secret-service, file or memory)"};
}

}  // namespace avn::platform
