// The Secret Service backend: items in the user's keyring (GNOME Keyring,
// KWallet, KeePassXC, ...) through libsecret.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/store.hpp"

namespace avn::platform {

/// The libsecret schema of our items (the `xdg:schema` attribute).
inline constexpr std::string_view secret_service_schema_name = "io.aiven.AvnAgent";
/// The value of the `application` attribute every item carries, so that
/// `secret-tool search application avn-agent` lists them all.
inline constexpr std::string_view secret_service_application = "avn-agent";
/// The deadline of one store call unless the constructor says otherwise.
inline constexpr std::chrono::milliseconds secret_service_default_deadline{5000};

/// The label an item gets (what Seahorse shows):
/// "avn-agent: Aiven session for EMAIL (API_URL)",
/// "avn-agent: Aiven token NAME for EMAIL", or for any other kind
/// "avn-agent: Aiven KIND NAME for EMAIL".
std::string secret_service_label(const store_key& key);

/// Items live in the Secret Service of the D-Bus session bus.
///
/// Each item's attributes are `application` = "avn-agent", `api_url`,
/// `kind`, `name` and `account` (plus `xdg:schema` = "io.aiven.AvnAgent",
/// added by libsecret); the payload is the item's secret (text/plain). An
/// item is identified by (api_url, kind, name). New items go to the
/// collection behind the `default` alias (GNOME Keyring's "login").
///
/// Contract:
/// - Every call, the first connection included, finishes within the
///   deadline given to the constructor; a service that does not answer in
///   time gives store_errc::timeout (and the next call reconnects).
/// - A locked collection gives store_errc::locked, never "not found":
///   `get` of an item that is not visible while the default collection is
///   locked is `locked`, as is `list` while it is locked. Nothing here ever
///   asks the service to unlock (no password prompt is ever raised).
/// - No session bus or nothing providing org.freedesktop.secrets gives
///   store_errc::unavailable, at once.
/// - Attribute values must be valid UTF-8 (store_errc::io otherwise).
/// - One long-lived connection, opened on the first call and opened again
///   after the bus connection is lost or a call failed for a reason other
///   than a locked collection.
/// - Safe to call from one thread at a time (any thread): every call runs
///   with a private GMainContext, never the process's default one.
class secret_service_store final : public secret_store {
  public:
    explicit secret_service_store(
        std::chrono::milliseconds deadline = secret_service_default_deadline);
    ~secret_service_store() override;
    secret_service_store(const secret_service_store&) = delete;
    secret_service_store& operator=(const secret_service_store&) = delete;

    [[nodiscard]] std::string_view backend() const noexcept override { return "secret-service"; }
    store_result<void> put(const store_key& key, const secret& payload) override;
    store_result<std::optional<secret>> get(const store_key& key) override;
    store_result<void> erase(const store_key& key) override;
    store_result<std::vector<store_key>> list() override;

    /// Connects when not connected and asks the service one question that
    /// its main loop answers. Success means "the Secret Service answers",
    /// not "its collection is unlocked".
    store_result<void> ping();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

std::unique_ptr<secret_store> make_secret_service_store(
    std::chrono::milliseconds deadline = secret_service_default_deadline);

}  // namespace avn::platform
