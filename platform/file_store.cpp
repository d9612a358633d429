#include "platform/file_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "platform/socket_path.hpp"
#include "platform/unique_fd.hpp"

namespace avn::platform {

namespace json = boost::json;

namespace {

constexpr const char* file_name = "secrets.json";
constexpr std::string_view temp_prefix = "secrets.json.tmp-";
constexpr std::string_view format_name = "avn-agent-secrets";
constexpr std::int64_t format_version = 1;
// Far above any real store (a session and a few tokens); a bound so a
// mistaken path cannot make the agent read a huge file.
constexpr off_t max_file_size = 16 * 1024 * 1024;

struct entry {
    store_key key;
    secret payload;
};

// ---------------------------------------------------------------------------
// Memory that held secrets.

// Boost.JSON storage that wipes every block it frees: the parsed file and the
// document being written hold every payload (as base64).
class wiping_resource final : public json::memory_resource {
    void* do_allocate(std::size_t n, std::size_t align) override {
        return ::operator new(n, std::align_val_t(align));
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        wipe(p, n);
        ::operator delete(p, n, std::align_val_t(align));
    }
    [[nodiscard]] bool do_is_equal(const json::memory_resource& o) const noexcept override {
        return this == &o;
    }
};

json::storage_ptr wiping_storage() {
    static wiping_resource resource;
    return json::storage_ptr(&resource);
}

// A heap buffer wiped when dropped.
class wiped_buffer {
  public:
    explicit wiped_buffer(std::size_t n)
        : data_(std::make_unique_for_overwrite<char[]>(n == 0 ? 1 : n)), size_(n) {}
    wiped_buffer(const wiped_buffer&) = delete;
    wiped_buffer& operator=(const wiped_buffer&) = delete;
    ~wiped_buffer() { wipe(data_.get(), size_); }
    [[nodiscard]] char* data() noexcept { return data_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

  private:
    std::unique_ptr<char[]> data_;
    std::size_t size_;
};

// ---------------------------------------------------------------------------
// Text.

std::string errno_text(int err) {
    return std::strerror(err);
}

store_error io_error(const std::string& what, int err) {
    return {store_errc::io, what + ": " + errno_text(err)};
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (i + n >= s.size()) {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        const bool overlong =
            (n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000);
        if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

// ---------------------------------------------------------------------------
// Base64 (OpenSSL): any payload bytes survive JSON exactly.

json::string base64_encode(std::string_view bytes, const json::storage_ptr& sp) {
    json::string out(sp);
    out.resize(4 * ((bytes.size() + 2) / 3));
    if (!bytes.empty()) {
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()),
                        static_cast<int>(bytes.size()));
    }
    return out;
}

// Strict: the alphabet, a length that is a multiple of 4, padding only at
// the end (EVP_DecodeBlock alone also skips whitespace).
std::optional<secret> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0 || text.size() > INT_MAX) {
        return std::nullopt;
    }
    std::size_t padding = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                           (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (c == '=' && i + 2 >= text.size()) {
            ++padding;
        } else if (!alpha || padding != 0) {
            return std::nullopt;
        }
    }
    if (text.empty()) {
        return secret();
    }
    wiped_buffer out(text.size() / 4 * 3);
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0 || static_cast<std::size_t>(n) < padding) {
        return std::nullopt;
    }
    return secret(std::string_view(out.data(), static_cast<std::size_t>(n) - padding));
}

// ---------------------------------------------------------------------------
// The folder and the file.

struct location {
    std::string dir;
    std::string file;
};

// mkdir -p with 0700 for what is missing, as the XDG base directory
// specification asks; only the store's own folder is required to be private.
store_result<void> make_dirs(const std::string& dir) {
    for (std::size_t pos = 1; pos != std::string::npos;) {
        pos = dir.find('/', pos);
        std::string part = dir.substr(0, pos);
        if (pos != std::string::npos) {
            ++pos;
        }
        if (part.empty() || part.back() == '/') {
            continue;
        }
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
            return io_error("cannot create the store folder " + part, errno);
        }
    }
    return {};
}

store_result<void> check_owner_and_mode(const struct stat& st, const std::string& path,
                                        const char* what, const char* fix_mode) {
    if (st.st_uid != ::geteuid()) {
        return store_error{store_errc::denied, std::string(what) + " " + path +
                                                   " is owned by uid " + std::to_string(st.st_uid) +
                                                   ", not by you (uid " +
                                                   std::to_string(::geteuid()) +
                                                   "); remove it or use a folder of yours"};
    }
    if ((st.st_mode & 077) != 0) {
        return store_error{store_errc::denied,
                           std::string(what) + " " + path + " is open to group or others (mode " +
                               octal_mode(st.st_mode) + "); fix it with: chmod " + fix_mode + " " +
                               shell_quote(path)};
    }
    return {};
}

// The folder, opened without following a symlink and checked on the open
// descriptor (no window between the check and the use). An empty fd when it
// does not exist and `create` is false.
store_result<unique_fd> open_dir(const location& loc, bool create) {
    if (create) {
        if (auto ok = make_dirs(loc.dir); !ok) {
            return ok.error();
        }
    }
    unique_fd fd(::open(loc.dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        const int err = errno;
        if (err == ENOENT && !create) {
            return unique_fd();
        }
        if (err == ELOOP || err == ENOTDIR) {
            return store_error{store_errc::denied,
                               "store folder " + loc.dir +
                                   " is not a plain directory (a symlink or a file); remove it "
                                   "(rm " +
                                   shell_quote(loc.dir) + ") or use another folder"};
        }
        return io_error("cannot open the store folder " + loc.dir, err);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return io_error("cannot inspect the store folder " + loc.dir, errno);
    }
    if (auto ok = check_owner_and_mode(st, loc.dir, "store folder", "700"); !ok) {
        return ok.error();
    }
    return fd;
}

// The file, checked like the folder; an empty fd when it does not exist.
store_result<unique_fd> open_file(int dir_fd, const location& loc) {
    unique_fd fd(::openat(dir_fd, file_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        const int err = errno;
        if (err == ENOENT) {
            return unique_fd();
        }
        if (err == ELOOP) {
            return store_error{store_errc::denied, "store file " + loc.file +
                                                       " is a symlink; remove it (rm " +
                                                       shell_quote(loc.file) + ")"};
        }
        return io_error("cannot open the store file " + loc.file, err);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return io_error("cannot inspect the store file " + loc.file, errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return store_error{store_errc::denied, "store file " + loc.file +
                                                   " is not a regular file; remove it (rm " +
                                                   shell_quote(loc.file) + ")"};
    }
    if (auto ok = check_owner_and_mode(st, loc.file, "store file", "600"); !ok) {
        return ok.error();
    }
    return fd;
}

store_error corrupt(const location& loc, const std::string& why) {
    return {store_errc::corrupt, "store file " + loc.file + " is not a readable avn-agent store (" +
                                     why + "); it was left untouched: move it away (mv " +
                                     shell_quote(loc.file) + " " + shell_quote(loc.file + ".bad") +
                                     ") and log in again"};
}

// ---------------------------------------------------------------------------
// The format.

std::optional<std::string> string_field(const json::object& o, const char* name) {
    const json::value* v = o.if_contains(name);
    if (v == nullptr || !v->is_string()) {
        return std::nullopt;
    }
    return std::string(v->get_string());
}

// Strict on purpose: an unknown field or version means a newer (or foreign)
// writer, and rewriting the file in our format would drop what we do not
// understand.
store_result<std::vector<entry>> decode(const json::value& doc, const location& loc) {
    const json::object* root = doc.if_object();
    if (root == nullptr) {
        return corrupt(loc, "not a JSON object");
    }
    for (const auto& kv : *root) {
        if (kv.key() != "format" && kv.key() != "version" && kv.key() != "items") {
            return corrupt(loc, "unknown field \"" + std::string(kv.key()) + "\"");
        }
    }
    const json::value* format = root->if_contains("format");
    if (format == nullptr || !format->is_string() || format->get_string() != format_name) {
        return corrupt(loc, "no \"format\": \"avn-agent-secrets\"");
    }
    const json::value* version = root->if_contains("version");
    if (version == nullptr || !version->is_int64() || version->get_int64() != format_version) {
        return corrupt(loc, "unsupported version");
    }
    const json::value* items = root->if_contains("items");
    if (items == nullptr || !items->is_array()) {
        return corrupt(loc, "no \"items\" array");
    }
    std::vector<entry> out;
    for (const json::value& v : items->get_array()) {
        const json::object* o = v.if_object();
        if (o == nullptr || o->size() != 5) {
            return corrupt(loc, "an item is not an object of 5 fields");
        }
        auto api_url = string_field(*o, "api_url");
        auto kind = string_field(*o, "kind");
        auto name = string_field(*o, "name");
        auto account = string_field(*o, "account");
        const json::value* payload = o->if_contains("secret_base64");
        if (!api_url || !kind || !name || !account || payload == nullptr || !payload->is_string()) {
            return corrupt(loc, "an item lacks a field");
        }
        auto bytes = base64_decode(payload->get_string());
        if (!bytes) {
            return corrupt(loc, "an item's secret is not base64");
        }
        store_key key{std::move(*api_url), std::move(*kind), std::move(*name), std::move(*account)};
        for (const auto& e : out) {
            if (e.key.same_item(key)) {
                return corrupt(loc, "two items with the same identity");
            }
        }
        out.push_back(entry{std::move(key), std::move(*bytes)});
    }
    return out;
}

json::value encode(const std::vector<entry>& items) {
    const json::storage_ptr sp = wiping_storage();
    json::object root(sp);
    root["format"] = format_name;
    root["version"] = format_version;
    json::array& arr = root["items"].emplace_array();
    arr.reserve(items.size());
    for (const auto& e : items) {
        json::object o(sp);
        o["api_url"] = e.key.api_url;
        o["kind"] = e.key.kind;
        o["name"] = e.key.name;
        o["account"] = e.key.account;
        o["secret_base64"] = base64_encode(e.payload.expose(), sp);
        arr.emplace_back(std::move(o));
    }
    return json::value(std::move(root));
}

// ---------------------------------------------------------------------------
// Reading and writing.

store_result<std::vector<entry>> read_items(int dir_fd, const location& loc) {
    auto fd = open_file(dir_fd, loc);
    if (!fd) {
        return fd.error();
    }
    if (!*fd) {
        return std::vector<entry>();
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) {
        return io_error("cannot inspect the store file " + loc.file, errno);
    }
    if (st.st_size > max_file_size) {
        return corrupt(loc, "larger than 16 MiB");
    }
    // The descriptor keeps the inode it opened: a writer renames a new file
    // into place and never changes this one, so its size is final.
    wiped_buffer content(static_cast<std::size_t>(st.st_size));
    std::size_t have = 0;
    while (have < content.size()) {
        const ssize_t n = ::read(fd->get(), content.data() + have, content.size() - have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return io_error("cannot read the store file " + loc.file, errno);
        }
        if (n == 0) {
            break;
        }
        have += static_cast<std::size_t>(n);
    }
    unsigned char temp[1024];
    json::parser parser(wiping_storage(), json::parse_options(), temp, sizeof temp);
    parser.reset(wiping_storage());
    json::error_code ec;
    // The whole document in one write: extra characters after it are an
    // error too.
    parser.write(content.data(), have, ec);
    if (ec) {
        wipe(temp, sizeof temp);
        return corrupt(loc, have == 0 ? std::string("empty") : "invalid JSON: " + ec.message());
    }
    // The parser builds the value from `temp`: wipe it only afterwards.
    const json::value doc = parser.release();
    wipe(temp, sizeof temp);
    return decode(doc, loc);
}

// 0 or the errno of the failed write.
int write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return errno;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return 0;
}

std::string random_suffix() {
    unsigned char bytes[8] = {};
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
        // Any value will do: O_EXCL refuses a name that exists.
        const auto t = static_cast<unsigned long long>(
            std::chrono::steady_clock::now().time_since_epoch().count());
        std::memcpy(bytes, &t, sizeof bytes);
    }
    std::string out;
    for (unsigned char b : bytes) {
        char hex[3];
        std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned>(b));
        out += hex;
    }
    return out;
}

// Called with the folder locked, so no other writer owns such a file now.
void remove_stale_temp_files(int dir_fd) {
    const int copy = ::dup(dir_fd);
    if (copy < 0) {
        return;
    }
    DIR* d = ::fdopendir(copy);
    if (d == nullptr) {
        ::close(copy);
        return;
    }
    std::vector<std::string> stale;
    while (const dirent* e = ::readdir(d)) {
        if (std::string_view(e->d_name).starts_with(temp_prefix)) {
            stale.emplace_back(e->d_name);
        }
    }
    ::closedir(d);
    for (const auto& name : stale) {
        ::unlinkat(dir_fd, name.c_str(), 0);
    }
}

store_result<void> write_items(int dir_fd, const location& loc, const std::vector<entry>& items,
                               const file_store_options& options) {
    remove_stale_temp_files(dir_fd);
    std::string temp_name;
    unique_fd fd;
    for (int attempt = 0; attempt < 16 && !fd; ++attempt) {
        temp_name = std::string(temp_prefix) + random_suffix();
        fd.reset(::openat(dir_fd, temp_name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd && errno != EEXIST) {
            return io_error("cannot create a temporary file in " + loc.dir, errno);
        }
    }
    if (!fd) {
        return store_error{store_errc::io, "cannot create a temporary file in " + loc.dir};
    }
    const std::string temp_path = loc.dir + "/" + temp_name;
    auto fail = [&](const std::string& what, int err) -> store_error {
        ::unlinkat(dir_fd, temp_name.c_str(), 0);
        return io_error(what, err);
    };
    // The umask may have taken bits away from 0600; set exactly 0600.
    if (::fchmod(fd.get(), 0600) != 0) {
        return fail("cannot set the mode of " + temp_path, errno);
    }
    {
        const json::value doc = encode(items);
        json::serializer sr;
        sr.reset(&doc);
        char chunk[4096];
        int err = 0;
        std::size_t total = 0;
        while (!sr.done() && err == 0) {
            const json::string_view part = sr.read(chunk, sizeof chunk);
            total += part.size();
            // A file this store could not read back is not written.
            err = total > static_cast<std::size_t>(max_file_size)
                      ? EFBIG
                      : write_all(fd.get(), part.data(), part.size());
        }
        wipe(chunk, sizeof chunk);
        if (err != 0) {
            return fail("cannot write " + temp_path, err);
        }
    }
    if (::fsync(fd.get()) != 0) {
        return fail("cannot sync " + temp_path, errno);
    }
    if (::close(fd.release()) != 0) {
        return fail("cannot write " + temp_path, errno);
    }
    if (options.before_rename && !options.before_rename(temp_path)) {
        return store_error{store_errc::io,
                           "the write of " + loc.file + " was stopped before the rename"};
    }
    if (::renameat(dir_fd, temp_name.c_str(), dir_fd, file_name) != 0) {
        return fail("cannot replace " + loc.file, errno);
    }
    // The rename is durable only once the folder's entry is on disk.
    if (::fsync(dir_fd) != 0) {
        return io_error("cannot sync the store folder " + loc.dir, errno);
    }
    return {};
}

// flock on the folder (one open file description per call, so instances in
// one process exclude each other as processes do). Bounded, so a stuck
// writer elsewhere gives a timeout, not a hang.
store_result<void> lock_dir(int dir_fd, const location& loc, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (::flock(dir_fd, LOCK_EX | LOCK_NB) == 0) {
            return {};
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EWOULDBLOCK) {
            return io_error("cannot lock the store folder " + loc.dir, errno);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return store_error{store_errc::timeout,
                               "another process has held the lock on the store folder " + loc.dir +
                                   " for too long"};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

}  // namespace

std::string default_file_store_dir() {
    if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/') {
        return std::string(state) + "/avn-agent";
    }
    std::string home;
    if (const char* h = std::getenv("HOME"); h != nullptr && h[0] == '/') {
        home = h;
    } else if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_dir != nullptr) {
        home = pw->pw_dir;
    }
    return home + "/.local/state/avn-agent";
}

file_store::file_store(file_store_options options)
    : options_(std::move(options)), file_(options_.dir + "/" + file_name) {}

store_result<void> file_store::check() {
    const location loc{options_.dir, file_};
    auto dir = open_dir(loc, true);
    if (!dir) {
        return dir.error();
    }
    auto file = open_file(dir->get(), loc);
    if (!file) {
        return file.error();
    }
    return {};
}

namespace {

// Read-modify-write under the folder's lock. `change` returns false when
// there is nothing to write.
template <class Change>
store_result<void> modify(const location& loc, const file_store_options& options, bool create,
                          Change&& change) {
    auto dir = open_dir(loc, create);
    if (!dir) {
        return dir.error();
    }
    if (!*dir) {
        return {};
    }
    if (auto ok = lock_dir(dir->get(), loc, options.lock_timeout); !ok) {
        return ok;
    }
    auto items = read_items(dir->get(), loc);
    if (!items) {
        return items.error();
    }
    if (!change(*items)) {
        return {};
    }
    return write_items(dir->get(), loc, *items, options);
}

store_result<std::vector<entry>> read_all(const location& loc) {
    auto dir = open_dir(loc, false);
    if (!dir) {
        return dir.error();
    }
    if (!*dir) {
        return std::vector<entry>();
    }
    return read_items(dir->get(), loc);
}

store_result<void> check_key(const store_key& key) {
    for (const std::string* s : {&key.api_url, &key.kind, &key.name, &key.account}) {
        if (!valid_utf8(*s)) {
            return store_error{store_errc::io,
                               "a store key must be valid UTF-8 (api_url, kind, name, account)"};
        }
    }
    return {};
}

}  // namespace

store_result<void> file_store::put(const store_key& key, const secret& payload) {
    if (auto ok = check_key(key); !ok) {
        return ok;
    }
    if (payload.size() > static_cast<std::size_t>(max_file_size)) {
        return store_error{store_errc::io, "the secret is larger than the store file may be"};
    }
    return modify({options_.dir, file_}, options_, true, [&](std::vector<entry>& items) {
        for (auto& e : items) {
            if (e.key.same_item(key)) {
                e.key = key;
                e.payload = payload.clone();
                return true;
            }
        }
        items.push_back(entry{key, payload.clone()});
        return true;
    });
}

store_result<std::optional<secret>> file_store::get(const store_key& key) {
    auto items = read_all({options_.dir, file_});
    if (!items) {
        return items.error();
    }
    for (auto& e : *items) {
        if (e.key.same_item(key)) {
            return std::optional<secret>(std::move(e.payload));
        }
    }
    return std::optional<secret>();
}

store_result<void> file_store::erase(const store_key& key) {
    return modify({options_.dir, file_}, options_, false, [&](std::vector<entry>& items) {
        return std::erase_if(items, [&](const entry& e) { return e.key.same_item(key); }) != 0;
    });
}

store_result<std::vector<store_key>> file_store::list() {
    auto items = read_all({options_.dir, file_});
    if (!items) {
        return items.error();
    }
    std::vector<store_key> keys;
    keys.reserve(items->size());
    for (auto& e : *items) {
        keys.push_back(std::move(e.key));
    }
    return keys;
}

std::unique_ptr<secret_store> make_file_store(file_store_options options) {
    return std::make_unique<file_store>(std::move(options));
}

}  // namespace avn::platform
