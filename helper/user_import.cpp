// avn-user import: moves avn's plain-text credentials into the agent.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"
#include "protocol/buffer.hpp"
#include "protocol/codec.hpp"

namespace avn::helper {

namespace {

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
}

// Reads the whole file into wiped storage; nullopt with `why` on failure.
std::optional<platform::secret> read_file(const std::string& path, std::string& why) {
    constexpr std::size_t limit = 1024 * 1024;  // avn's file is a few hundred bytes
    std::FILE* f = std::fopen(path.c_str(), "rbe");
    if (f == nullptr) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    protocol::wiping_buffer text;  // growing it leaves no unwiped copy behind
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() <= limit) {
        text.append(std::string_view(buf, n));
    }
    const int read_errno = std::ferror(f) != 0 ? errno : 0;
    platform::wipe(buf, sizeof buf);
    std::fclose(f);
    if (read_errno != 0) {
        why = std::strerror(read_errno);
        return std::nullopt;
    }
    if (text.size() > limit) {
        why = "larger than 1 MiB, so not avn's credentials file";
        return std::nullopt;
    }
    return platform::secret(text.view());
}

}  // namespace

std::string avn_credentials_path() {
    if (std::string p = env_or_empty("AIVEN_CREDENTIALS_FILE"); !p.empty()) {
        return p;
    }
    if (std::string d = env_or_empty("AIVEN_CONFIG_DIR"); !d.empty()) {
        return d + "/aiven-credentials.json";
    }
    return env_or_empty("HOME") + "/.config/aiven/aiven-credentials.json";
}

int user_import(user_session& s, const user_import_args& a) {
    const std::string path = a.file.empty() ? avn_credentials_path() : a.file;
    std::string why;
    auto text = read_file(path, why);
    if (!text) {
        return report_user_error(s.con, "cannot read avn's credentials file " + path + ": " + why);
    }
    boost::system::error_code ec;
    const auto doc = boost::json::parse(text->expose(), ec, protocol::wiping_storage());
    const auto* o = doc.if_object();
    const auto* token = o != nullptr ? o->if_contains("auth_token") : nullptr;
    if (ec || token == nullptr || !token->is_string() || token->get_string().empty()) {
        return report_user_error(s.con,
                                 path + " is not an avn credentials file (no \"auth_token\")");
    }
    boost::json::object args = secret_args();
    args["token"] = token->get_string();
    if (const auto* email = o->if_contains("user_email"); email != nullptr && email->is_string()) {
        args["email"] = email->get_string();
    }
    // The agent checks the token with the API before keeping it: a dead token
    // is reported and the file is left where it is.
    const call_result r = s.call("login_token", args);
    if (!succeeded(r)) {
        return report_failure(s.con, "login_token", r);
    }
    log_info(s.con, "Aiven credentials imported from " + path + " into avn-agent");
    if (a.remove_file) {
        if (::unlink(path.c_str()) != 0) {
            return report_user_error(
                s.con, "imported, but cannot remove " + path + ": " + std::strerror(errno));
        }
        log_info(s.con, "Removed " + path);
    }
    return exit_ok;
}

}  // namespace avn::helper
