// Choosing the keyring backend (`--keyring auto|secret-service|file|memory`)
// and telling the user why.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "platform/store.hpp"

namespace avn::platform {

/// How long `auto` waits for a Secret Service to answer before choosing the
/// file backend.
inline constexpr std::chrono::milliseconds default_probe_timeout{1500};

/// Whether a Secret Service answers on the D-Bus session bus within
/// `timeout`. The error's message says why not, in words fit for the user,
/// e.g. "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)",
/// "no Secret Service on the session bus (nothing provides
/// org.freedesktop.secrets)", "the Secret Service did not answer within
/// 1.5 s (...)"; its code is mostly unavailable or timeout. A locked
/// collection still answers: that is success here (calls report `locked`
/// later). Returns within about `timeout` whatever the bus or the service
/// does.
store_result<void> probe_secret_service(std::chrono::milliseconds timeout = default_probe_timeout);

struct store_options {
    /// The file backend's folder; empty: default_file_store_dir().
    std::string file_dir;
    /// The deadline of each Secret Service call.
    std::chrono::milliseconds call_deadline{5000};
    /// How long the probe waits (`auto` and `secret-service`).
    std::chrono::milliseconds probe_timeout = default_probe_timeout;
};

struct store_choice {
    std::unique_ptr<secret_store> store;
    std::string backend;  ///< "secret-service", "file" or "memory"
    std::string why;      ///< one line for the log and `status`
    /// True when the user should be told out loud: `auto` fell back to the
    /// plain file because no Secret Service answered.
    bool loud = false;
};

/// Opens the backend `requested` names:
/// - "auto": secret-service when the probe succeeds; else file, with `why`
///   saying why the Secret Service is not used and where secrets go, and
///   `loud` set;
/// - "secret-service": an error (the probe's code and reason) when it does
///   not answer; never a fallback;
/// - "file": the file backend; the folder is created and its permissions
///   (and the file's, when present) checked now: store_errc::denied with
///   the fix when they are wrong;
/// - "memory": nothing persists.
/// Anything else is store_errc::unavailable naming the accepted values.
store_result<store_choice> open_store(std::string_view requested, const store_options& options);

}  // namespace avn::platform
