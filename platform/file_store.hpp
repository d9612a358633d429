// The file backend: every item in one JSON file, readable only by the user.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/store.hpp"

namespace avn::platform {

/// `$XDG_STATE_HOME/avn-agent` when XDG_STATE_HOME is an absolute path, else
/// `$HOME/.local/state/avn-agent` (HOME from the password database when
/// unset). Reads the environment; touches nothing.
std::string default_file_store_dir();

struct file_store_options {
    /// The folder holding `secrets.json`; created (mode 0700, missing parents
    /// too) on the first write.
    std::string dir;
    /// How long a call waits for another writer's lock on the folder before
    /// giving up with store_errc::timeout.
    std::chrono::milliseconds lock_timeout{5000};
    /// Test hook, called after the new content is written and synced to the
    /// temporary file and before it is renamed over `secrets.json`. Returning
    /// false stops the write there, as a crash would: the temporary file is
    /// left behind, `secrets.json` is untouched, and the call fails with
    /// store_errc::io.
    std::function<bool(const std::string& temp_path)> before_rename;
};

/// Items in `DIR/secrets.json`:
///   {"format":"avn-agent-secrets","version":1,"items":[{"api_url":..,
///    "kind":..,"name":..,"account":..,"secret_base64":..}, ...]}
/// The payload is base64 so any bytes survive exactly.
///
/// Contract:
/// - The folder must be a real directory owned by the user with no group or
///   other permissions, and the file a regular file owned by the user with
///   none either; anything else is store_errc::denied, with the chmod (or
///   other) fix in the message. The folder is created with mkdir 0700; the
///   file is written 0600.
/// - Writes are atomic and durable: a temporary file in the same folder
///   (O_EXCL, 0600) is written, fsynced and renamed over the file, then the
///   folder is fsynced. A crash leaves either the old or the new content,
///   never a torn or empty file. Temporary files left by a crash are removed
///   by the next write.
/// - Writers (other instances, other processes) exclude each other with
///   flock on the folder; readers need no lock.
/// - Content that is not this format (bad JSON, unknown version or fields,
///   bad base64, duplicate items) is store_errc::corrupt for every call,
///   writes included: the file is never overwritten, so nothing in it is
///   lost; the message says to move it away.
/// - Nothing is cached: each call reads the file, so instances and processes
///   sharing the folder see each other's writes.
/// - Keys and payloads must not make invalid JSON: keys must be valid UTF-8
///   (store_errc::io otherwise).
/// - Buffers that held the file's content or payloads are wiped.
/// - Safe to call from one thread at a time.
class file_store final : public secret_store {
  public:
    explicit file_store(file_store_options options);

    [[nodiscard]] std::string_view backend() const noexcept override { return "file"; }
    store_result<void> put(const store_key& key, const secret& payload) override;
    store_result<std::optional<secret>> get(const store_key& key) override;
    store_result<void> erase(const store_key& key) override;
    store_result<std::vector<store_key>> list() override;

    /// Creates the folder when missing and checks the folder's and (when
    /// present) the file's ownership and permissions; the content is not
    /// read.
    store_result<void> check();

    /// The store file's path.
    [[nodiscard]] const std::string& path() const noexcept { return file_; }

  private:
    file_store_options options_;
    std::string file_;
};

std::unique_ptr<secret_store> make_file_store(file_store_options options);

}  // namespace avn::platform
