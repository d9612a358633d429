// Test support for the keyring backends: a real gnome-keyring on a private
// D-Bus session bus, child processes, environment overrides.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace avn::platform::test {

using env_list = std::vector<std::pair<std::string, std::string>>;

struct command_result {
    int exit_code = -1;  ///< -1 when it could not run or died of a signal
    std::string out;
    std::string err;
};

/// Runs `argv` (argv[0] looked up in PATH) with `env` set on top of this
/// process's environment and `input` on its stdin; waits for it.
command_result run_command(const std::vector<std::string>& argv, const env_list& env = {},
                           std::string_view input = {});

/// A private D-Bus session bus and, optionally, a gnome-keyring-daemon on it
/// whose `login` collection is created and unlocked, in a throwaway folder
/// used as HOME and the XDG folders.
/// - The bus is a dbus-daemon with a generated configuration that names no
///   service folders, so nothing is ever auto-started on it.
/// - The keyring is started without DISPLAY and WAYLAND_DISPLAY (no prompt
///   can open), the password on stdin with no trailing newline, and waited
///   for with `gdbus wait --session --timeout 10 org.freedesktop.secrets`.
/// - Both are children of the test process, which they do not outlive
///   (PR_SET_PDEATHSIG); the destructor stops and reaps them and removes the
///   folder. Start and stop from the main thread.
class private_session {
  public:
    struct options {
        bool keyring = true;
    };

    /// nullptr with `error` set when something did not start.
    static std::unique_ptr<private_session> start(const options& opts, std::string& error);
    ~private_session();
    private_session(const private_session&) = delete;
    private_session& operator=(const private_session&) = delete;

    /// The bus address (for DBUS_SESSION_BUS_ADDRESS).
    [[nodiscard]] const std::string& address() const noexcept { return address_; }
    /// The throwaway folder.
    [[nodiscard]] const std::string& root() const noexcept { return root_; }
    /// DBUS_SESSION_BUS_ADDRESS, HOME and the XDG folders of this session.
    [[nodiscard]] env_list env() const;
    /// Runs a command in this session's environment.
    command_result run(const std::vector<std::string>& argv, std::string_view input = {}) const;
    /// The pid owning org.freedesktop.secrets, asked from the bus
    /// (GetConnectionUnixProcessID); nullopt when nothing owns it.
    [[nodiscard]] std::optional<pid_t> secret_service_pid() const;
    /// Locks the `login` collection through the Secret Service's Lock method.
    [[nodiscard]] bool lock_login() const;
    /// Stops the keyring and starts a new one on the same bus and HOME (its
    /// `login` collection, saved on disk, unlocked with the same password).
    [[nodiscard]] bool restart_keyring(std::string& error);
    /// Stops the keyring and the bus (idempotent).
    void stop();

  private:
    private_session() = default;
    bool start_keyring(std::string& error);
    std::string root_;
    std::string address_;
    pid_t bus_pid_ = -1;
    pid_t keyring_pid_ = -1;
};

/// The keyring shared by the tests of this process: started on first use,
/// DBUS_SESSION_BUS_ADDRESS pointing to it from then on, stopped at the end
/// of the run by a GoogleTest environment. nullptr (and `error`) when it
/// could not start.
private_session* shared_keyring(std::string* error = nullptr);

/// Sets (or, with nullopt, unsets) an environment variable for a scope.
class scoped_env {
  public:
    scoped_env(std::string name, std::optional<std::string> value);
    ~scoped_env();
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    std::string name_;
    std::optional<std::string> old_;
};

/// A temporary folder (0700) removed with everything in it at the end.
class temp_dir {
  public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

  private:
    std::string path_;
};

}  // namespace avn::platform::test
