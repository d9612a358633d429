#include "platform/secret_service_store.hpp"

#include <libsecret/secret.h>
#include <sys/stat.h>

#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

namespace avn::platform {

namespace {

using steady = std::chrono::steady_clock;

constexpr const char* service_path = "/org/freedesktop/secrets";
constexpr const char* service_interface = "org.freedesktop.Secret.Service";

// Only STRING attributes: libsecret would otherwise parse and reformat
// values, and every identifier here is text.
const SecretSchema& schema() {
    static const SecretSchema s = {
        "io.aiven.AvnAgent",
        SECRET_SCHEMA_NONE,
        {
            {"application", SECRET_SCHEMA_ATTRIBUTE_STRING},
            {"api_url", SECRET_SCHEMA_ATTRIBUTE_STRING},
            {"kind", SECRET_SCHEMA_ATTRIBUTE_STRING},
            {"name", SECRET_SCHEMA_ATTRIBUTE_STRING},
            {"account", SECRET_SCHEMA_ATTRIBUTE_STRING},
            {nullptr, SECRET_SCHEMA_ATTRIBUTE_STRING},
        },
        0,
        nullptr,
        nullptr,
        nullptr,
        nullptr,
        nullptr,
        nullptr,
        nullptr,
    };
    return s;
}

// ---------------------------------------------------------------------------
// Ownership of GLib objects.

template <class T>
class gobj {
  public:
    gobj() = default;
    explicit gobj(T* p) noexcept : p_(p) {}
    gobj(const gobj&) = delete;
    gobj& operator=(const gobj&) = delete;
    gobj(gobj&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    gobj& operator=(gobj&& o) noexcept {
        if (this != &o) {
            reset(std::exchange(o.p_, nullptr));
        }
        return *this;
    }
    ~gobj() { reset(); }
    void reset(T* p = nullptr) noexcept {
        if (p_ != nullptr) {
            g_object_unref(p_);
        }
        p_ = p;
    }
    [[nodiscard]] T* get() const noexcept { return p_; }
    [[nodiscard]] explicit operator bool() const noexcept { return p_ != nullptr; }

  private:
    T* p_ = nullptr;
};

struct gerror {
    GError* e = nullptr;
    gerror() = default;
    gerror(const gerror&) = delete;
    gerror& operator=(const gerror&) = delete;
    ~gerror() {
        if (e != nullptr) {
            g_error_free(e);
        }
    }
    GError** out() noexcept { return &e; }
};

struct item_list {
    GList* head = nullptr;
    explicit item_list(GList* l) noexcept : head(l) {}
    item_list(const item_list&) = delete;
    item_list& operator=(const item_list&) = delete;
    ~item_list() { g_list_free_full(head, g_object_unref); }
};

struct hash_table {
    GHashTable* t;
    explicit hash_table(GHashTable* table) noexcept : t(table) {}
    hash_table(const hash_table&) = delete;
    hash_table& operator=(const hash_table&) = delete;
    ~hash_table() {
        if (t != nullptr) {
            g_hash_table_unref(t);
        }
    }
};

// ---------------------------------------------------------------------------
// Deadlines.

// Cancels the GCancellable of the call in progress when its deadline
// passes. Cancellation is the only bound GDBus honours at once for every
// step (connect, proxy set-up, each method call): a stopped daemon would
// otherwise cost two 25 s D-Bus timeouts per call. One thread per store,
// started on the first call, parked between calls.
class watchdog {
  public:
    watchdog() = default;
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
        disarm();
    }

    void arm(GCancellable* cancellable, steady::time_point deadline) {
        {
            std::lock_guard lock(mutex_);
            armed_ = G_CANCELLABLE(g_object_ref(cancellable));
            deadline_ = deadline;
        }
        if (!thread_.joinable()) {
            thread_ = std::thread([this] { run(); });
        }
        wake_.notify_all();
    }

    void disarm() {
        GCancellable* c = nullptr;
        {
            std::lock_guard lock(mutex_);
            c = std::exchange(armed_, nullptr);
        }
        if (c != nullptr) {
            g_object_unref(c);
        }
    }

  private:
    void run() {
        std::unique_lock lock(mutex_);
        while (!stop_) {
            if (armed_ == nullptr) {
                wake_.wait(lock);
            } else if (steady::now() >= deadline_) {
                GCancellable* c = std::exchange(armed_, nullptr);
                // Cancelling runs GDBus's handlers: not under our lock.
                lock.unlock();
                g_cancellable_cancel(c);
                g_object_unref(c);
                lock.lock();
            } else {
                wake_.wait_until(lock, deadline_);
            }
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    GCancellable* armed_ = nullptr;
    steady::time_point deadline_{};
    bool stop_ = false;
    std::thread thread_;
};

// Makes `context` the thread-default main context for one call. The
// service's proxies subscribe to D-Bus signals in the context current when
// they are made; with a private one, their callbacks never run on (or pile
// up in) the process's default context, which nobody here iterates, and
// whichever thread makes the next call picks them up. libsecret's _sync
// calls run their own loop inside.
class context_scope {
  public:
    explicit context_scope(GMainContext* context) : context_(context) {
        g_main_context_push_thread_default(context_);
        // Signals that came between calls first (a name owner change tells
        // the proxies where the service is now).
        drain();
    }
    context_scope(const context_scope&) = delete;
    context_scope& operator=(const context_scope&) = delete;
    ~context_scope() {
        drain();
        g_main_context_pop_thread_default(context_);
    }

  private:
    void drain() {
        while (g_main_context_iteration(context_, FALSE)) {
        }
    }

    GMainContext* context_;
};

std::string seconds_text(std::chrono::milliseconds d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
    return buf;
}

// ---------------------------------------------------------------------------
// Errors.

store_error locked_error(std::string_view collection_label) {
    std::string which = collection_label.empty()
                            ? std::string("the keyring holding avn-agent's items")
                            : "the '" + std::string(collection_label) + "' keyring";
    return {store_errc::locked, which +
                                    " is locked; unlock it (log in to the desktop, or open "
                                    "Seahorse and unlock it) and retry"};
}

store_error collection_locked(SecretCollection* collection) {
    gchar* label = secret_collection_get_label(collection);
    store_error e = locked_error(label != nullptr ? label : "");
    g_free(label);
    return e;
}

bool is_timeout(const GError* e) {
    return g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
           g_error_matches(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY);
}

bool is_no_service(const GError* e) {
    return g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER);
}

bool is_connection_lost(const GError* e) {
    return g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
           g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
           g_error_matches(e, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED);
}

std::string gerror_text(const GError* e) {
    if (e == nullptr) {
        return "unknown error";
    }
    // D-Bus errors read "GDBus.Error:NAME: text"; the name adds nothing here.
    std::string text = e->message != nullptr ? e->message : "unknown error";
    if (text.starts_with("GDBus.Error:")) {
        if (auto colon = text.find(": "); colon != std::string::npos) {
            text.erase(0, colon + 2);
        }
    }
    return text;
}

store_error timeout_error(std::chrono::milliseconds deadline, std::string_view doing) {
    return {store_errc::timeout, "the Secret Service did not answer within " +
                                     seconds_text(deadline) + " (while " + std::string(doing) +
                                     ")"};
}

// Every failure of a libsecret or GDBus call goes through here. Once the
// deadline has cancelled the call, whatever error surfaced is a timeout.
store_error to_store_error(const GError* e, GCancellable* cancellable,
                           std::chrono::milliseconds deadline, std::string_view doing) {
    if (g_cancellable_is_cancelled(cancellable) || is_timeout(e)) {
        return timeout_error(deadline, doing);
    }
    if (g_error_matches(e, SECRET_ERROR, SECRET_ERROR_IS_LOCKED)) {
        return locked_error({});
    }
    if (is_no_service(e)) {
        return {store_errc::unavailable,
                "no Secret Service on the session bus (nothing provides org.freedesktop.secrets)"};
    }
    if (is_connection_lost(e)) {
        return {store_errc::unavailable,
                "the connection to the D-Bus session bus was lost (" + gerror_text(e) + ")"};
    }
    if (g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_AUTH_FAILED)) {
        return {store_errc::denied,
                "the Secret Service refused " + std::string(doing) + ": " + gerror_text(e)};
    }
    return {store_errc::io,
            "Secret Service error while " + std::string(doing) + ": " + gerror_text(e)};
}

// GLib would look for $XDG_RUNTIME_DIR/bus and then try X11 autolaunch
// (spawning dbus-launch); decide first, so "no bus" is immediate and named.
std::optional<std::string> missing_session_bus() {
    const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
    if (address != nullptr && *address != '\0') {
        return std::nullopt;
    }
    if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime) {
        struct stat st {};
        std::string bus = std::string(runtime) + "/bus";
        if (::stat(bus.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            return std::nullopt;
        }
    }
    return std::string("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)");
}

// ---------------------------------------------------------------------------
// Attributes.

bool valid_utf8(const std::string& s) {
    // g_utf8_validate with a length also rejects embedded NULs, which would
    // silently cut a C string attribute short.
    return g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr) != FALSE;
}

store_result<void> check_key(const store_key& key) {
    for (const std::string* s : {&key.api_url, &key.kind, &key.name, &key.account}) {
        if (!valid_utf8(*s)) {
            return store_error{store_errc::io,
                               "a Secret Service attribute must be valid UTF-8 without NUL "
                               "characters (api_url, kind, name and account)"};
        }
    }
    return {};
}

// The table borrows the key's strings: libsecret only reads them during the
// call.
GHashTable* identity_attributes(const store_key& key) {
    GHashTable* t = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_insert(t, const_cast<char*>("application"),
                        const_cast<char*>(secret_service_application.data()));
    g_hash_table_insert(t, const_cast<char*>("api_url"), const_cast<char*>(key.api_url.c_str()));
    g_hash_table_insert(t, const_cast<char*>("kind"), const_cast<char*>(key.kind.c_str()));
    g_hash_table_insert(t, const_cast<char*>("name"), const_cast<char*>(key.name.c_str()));
    return t;
}

GHashTable* all_attributes(const store_key& key) {
    GHashTable* t = identity_attributes(key);
    g_hash_table_insert(t, const_cast<char*>("account"), const_cast<char*>(key.account.c_str()));
    return t;
}

GHashTable* application_attributes() {
    GHashTable* t = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_insert(t, const_cast<char*>("application"),
                        const_cast<char*>(secret_service_application.data()));
    return t;
}

std::string attribute(GHashTable* attrs, const char* name) {
    const auto* v = static_cast<const char*>(g_hash_table_lookup(attrs, name));
    return v != nullptr ? std::string(v) : std::string();
}

int timeout_ms(std::chrono::milliseconds d) {
    return d.count() > INT_MAX ? INT_MAX : static_cast<int>(d.count());
}

}  // namespace

std::string secret_service_label(const store_key& key) {
    std::string label = "avn-agent: Aiven ";
    if (key.kind == "session") {
        label += "session for " + key.account + " (" + key.api_url + ")";
    } else {
        label += key.kind + " " + key.name + " for " + key.account;
    }
    return label;
}

// ---------------------------------------------------------------------------

struct secret_service_store::impl {
    std::chrono::milliseconds deadline;
    GMainContext* context;
    SecretService* service = nullptr;
    watchdog dog;

    explicit impl(std::chrono::milliseconds d) : deadline(d), context(g_main_context_new()) {}
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
    ~impl() {
        {
            context_scope scope(context);
            drop_service();
        }
        g_main_context_unref(context);
    }

    void drop_service() {
        if (service != nullptr) {
            g_object_unref(service);
            service = nullptr;
        }
    }

    // One store call: a private context, a fresh cancellable armed at the
    // deadline, a connection. After any failure but "locked" the service
    // object is dropped: after a timeout it may hold a half-opened session,
    // and a restarted daemon does not know our old session either; the next
    // call reconnects (~10 ms).
    template <class T, class Body>
    store_result<T> run(std::string_view doing, Body&& body) {
        context_scope scope(context);
        gobj<GCancellable> cancellable(g_cancellable_new());
        dog.arm(cancellable.get(), steady::now() + deadline);
        auto attempt = [&]() -> store_result<T> {
            if (auto ok = connect(cancellable.get()); !ok) {
                return ok.error();
            }
            return body(cancellable.get());
        };
        const bool reused = service != nullptr;
        store_result<T> r = attempt();
        // A connection that served earlier calls can be stale in a way only a
        // call reveals: the daemon restarted and does not know our session,
        // or the name changed hands. One fresh attempt, within the same
        // deadline; every call here is idempotent.
        if (!r && reused && !g_cancellable_is_cancelled(cancellable.get()) &&
            (r.error().code == store_errc::io || r.error().code == store_errc::unavailable)) {
            drop_service();
            r = attempt();
        }
        dog.disarm();
        if (!r) {
            if (g_cancellable_is_cancelled(cancellable.get()) &&
                r.error().code != store_errc::timeout) {
                r = timeout_error(deadline, doing);
            }
            if (r.error().code != store_errc::locked) {
                drop_service();
            }
        }
        return r;
    }

    store_result<void> connect(GCancellable* cancellable) {
        if (service != nullptr) {
            if (!g_dbus_connection_is_closed(g_dbus_proxy_get_connection(G_DBUS_PROXY(service)))) {
                return {};
            }
            drop_service();
        }
        if (auto why = missing_session_bus()) {
            return store_error{store_errc::unavailable, *why};
        }
        // The process's shared session connection (libsecret cannot use a
        // private one). It is held only through our SecretService, so once
        // that is dropped GLib forgets it and the next call connects anew.
        gerror err;
        gobj<GDBusConnection> bus(g_bus_get_sync(G_BUS_TYPE_SESSION, cancellable, err.out()));
        if (!bus) {
            if (g_cancellable_is_cancelled(cancellable)) {
                return store_error{
                    store_errc::timeout,
                    "the D-Bus session bus did not answer within " + seconds_text(deadline)};
            }
            return store_error{store_errc::unavailable,
                               "cannot connect to the D-Bus session bus: " + gerror_text(err.e)};
        }
        if (g_dbus_connection_is_closed(bus.get())) {
            return store_error{store_errc::unavailable,
                               "the connection to the D-Bus session bus is closed"};
        }
        // By default GLib ends the process (SIGTERM) when the session bus
        // goes away; the agent must outlive its keyring.
        g_dbus_connection_set_exit_on_close(bus.get(), FALSE);
        SecretService* s = secret_service_open_sync(
            SECRET_TYPE_SERVICE, nullptr, SECRET_SERVICE_OPEN_SESSION, cancellable, err.out());
        if (s == nullptr) {
            return to_store_error(err.e, cancellable, deadline, "connecting");
        }
        // Later calls made through the proxy also give up by themselves.
        g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(s), timeout_ms(deadline));
        service = s;
        return {};
    }

    // The collection behind the `default` alias; empty when there is none.
    // A fresh proxy each time: its Locked property is read now, not cached
    // from an earlier call.
    store_result<gobj<SecretCollection>> default_collection(GCancellable* cancellable) {
        gerror err;
        gobj<SecretCollection> c(secret_collection_for_alias_sync(
            service, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE, cancellable, err.out()));
        if (err.e != nullptr) {
            return to_store_error(err.e, cancellable, deadline, "reading the default collection");
        }
        return c;
    }

    // "locked" when the default collection is locked: what cannot be seen
    // in it may still be there.
    store_result<void> check_default_unlocked(GCancellable* cancellable) {
        auto c = default_collection(cancellable);
        if (!c) {
            return c.error();
        }
        if (*c && secret_collection_get_locked(c->get()) != FALSE) {
            return collection_locked(c->get());
        }
        return {};
    }

    // For items found locked: named after the default collection when that
    // is the locked one.
    store_error locked_items(GCancellable* cancellable) {
        if (auto ok = check_default_unlocked(cancellable);
            !ok && ok.error().code == store_errc::locked) {
            return ok.error();
        }
        return locked_error({});
    }

    // Never SECRET_SEARCH_UNLOCK: that would raise an unlock prompt.
    store_result<GList*> search(GHashTable* attrs, bool load_secrets, GCancellable* cancellable,
                                std::string_view doing) {
        auto flags = static_cast<SecretSearchFlags>(
            SECRET_SEARCH_ALL | (load_secrets ? SECRET_SEARCH_LOAD_SECRETS : SECRET_SEARCH_NONE));
        gerror err;
        GList* items =
            secret_service_search_sync(service, &schema(), attrs, flags, cancellable, err.out());
        if (err.e != nullptr) {
            g_list_free_full(items, g_object_unref);
            return to_store_error(err.e, cancellable, deadline, doing);
        }
        return items;
    }
};

secret_service_store::secret_service_store(std::chrono::milliseconds deadline)
    : impl_(std::make_unique<impl>(deadline)) {}

secret_service_store::~secret_service_store() = default;

store_result<void> secret_service_store::put(const store_key& key, const secret& payload) {
    if (auto ok = check_key(key); !ok) {
        return ok;
    }
    const std::string label = secret_service_label(key);
    return impl_->run<void>("storing an item", [&](GCancellable* c) -> store_result<void> {
        auto collection = impl_->default_collection(c);
        if (!collection) {
            return collection.error();
        }
        if (!*collection) {
            return store_error{store_errc::unavailable,
                               "the Secret Service has no default keyring; create one (e.g. in "
                               "Seahorse, \"Passwords and Keys\") and retry"};
        }
        if (secret_collection_get_locked(collection->get()) != FALSE) {
            return collection_locked(collection->get());
        }
        // libsecret copies the bytes into its wiped (and mlocked) memory.
        std::string_view bytes = payload.expose();
        SecretValue* value = secret_value_new(bytes.empty() ? "" : bytes.data(),
                                              static_cast<gssize>(bytes.size()), "text/plain");
        hash_table attrs(all_attributes(key));
        gerror err;
        // REPLACE updates an item with exactly these attributes in place, so
        // there is no moment without the item.
        gobj<SecretItem> item(secret_item_create_sync(collection->get(), &schema(), attrs.t,
                                                      label.c_str(), value,
                                                      SECRET_ITEM_CREATE_REPLACE, c, err.out()));
        secret_value_unref(value);
        if (!item) {
            return to_store_error(err.e, c, impl_->deadline, "storing an item");
        }
        // The account is not part of the identity: an item of the same
        // identity under another account is replaced by this one.
        hash_table identity(identity_attributes(key));
        auto found = impl_->search(identity.t, false, c, "storing an item");
        if (!found) {
            return found.error();
        }
        item_list items(*found);
        const char* created = g_dbus_proxy_get_object_path(G_DBUS_PROXY(item.get()));
        for (GList* l = items.head; l != nullptr; l = l->next) {
            auto* other = static_cast<SecretItem*>(l->data);
            if (g_strcmp0(g_dbus_proxy_get_object_path(G_DBUS_PROXY(other)), created) == 0 ||
                secret_item_get_locked(other) != FALSE) {
                continue;
            }
            if (secret_item_delete_sync(other, c, err.out()) == FALSE) {
                return to_store_error(err.e, c, impl_->deadline, "replacing an item");
            }
        }
        return {};
    });
}

store_result<std::optional<secret>> secret_service_store::get(const store_key& key) {
    if (auto ok = check_key(key); !ok) {
        return ok.error();
    }
    return impl_->run<std::optional<secret>>(
        "reading an item", [&](GCancellable* c) -> store_result<std::optional<secret>> {
            hash_table attrs(identity_attributes(key));
            auto found = impl_->search(attrs.t, true, c, "reading an item");
            if (!found) {
                return found.error();
            }
            item_list items(*found);
            SecretItem* newest = nullptr;
            bool any_locked = false;
            for (GList* l = items.head; l != nullptr; l = l->next) {
                auto* item = static_cast<SecretItem*>(l->data);
                if (secret_item_get_locked(item) != FALSE) {
                    any_locked = true;
                } else if (newest == nullptr ||
                           secret_item_get_modified(item) > secret_item_get_modified(newest)) {
                    newest = item;
                }
            }
            if (newest != nullptr) {
                SecretValue* value = secret_item_get_secret(newest);
                if (value == nullptr) {
                    return store_error{store_errc::io,
                                       "the Secret Service returned an item without its secret"};
                }
                gsize size = 0;
                const gchar* bytes = secret_value_get(value, &size);
                std::optional<secret> out(secret(std::string_view(bytes, size)));
                secret_value_unref(value);
                return out;
            }
            if (any_locked) {
                return impl_->locked_items(c);
            }
            if (auto ok = impl_->check_default_unlocked(c); !ok) {
                return ok.error();
            }
            return std::optional<secret>();
        });
}

store_result<void> secret_service_store::erase(const store_key& key) {
    if (auto ok = check_key(key); !ok) {
        return ok;
    }
    return impl_->run<void>("removing an item", [&](GCancellable* c) -> store_result<void> {
        hash_table attrs(identity_attributes(key));
        auto found = impl_->search(attrs.t, false, c, "removing an item");
        if (!found) {
            return found.error();
        }
        item_list items(*found);
        if (items.head == nullptr) {
            return impl_->check_default_unlocked(c);
        }
        for (GList* l = items.head; l != nullptr; l = l->next) {
            if (secret_item_get_locked(static_cast<SecretItem*>(l->data)) != FALSE) {
                return impl_->locked_items(c);
            }
        }
        gerror err;
        for (GList* l = items.head; l != nullptr; l = l->next) {
            if (secret_item_delete_sync(static_cast<SecretItem*>(l->data), c, err.out()) == FALSE &&
                !g_error_matches(err.e, SECRET_ERROR, SECRET_ERROR_NO_SUCH_OBJECT)) {
                return to_store_error(err.e, c, impl_->deadline, "removing an item");
            }
            g_clear_error(err.out());
        }
        return {};
    });
}

store_result<std::vector<store_key>> secret_service_store::list() {
    return impl_->run<std::vector<store_key>>(
        "listing items", [&](GCancellable* c) -> store_result<std::vector<store_key>> {
            hash_table attrs(application_attributes());
            auto found = impl_->search(attrs.t, false, c, "listing items");
            if (!found) {
                return found.error();
            }
            item_list items(*found);
            std::vector<store_key> keys;
            for (GList* l = items.head; l != nullptr; l = l->next) {
                auto* item = static_cast<SecretItem*>(l->data);
                if (secret_item_get_locked(item) != FALSE) {
                    return impl_->locked_items(c);
                }
                hash_table a(secret_item_get_attributes(item));
                store_key k{attribute(a.t, "api_url"), attribute(a.t, "kind"),
                            attribute(a.t, "name"), attribute(a.t, "account")};
                bool seen = false;
                for (const auto& other : keys) {
                    seen = seen || other.same_item(k);
                }
                if (!seen) {
                    keys.push_back(std::move(k));
                }
            }
            if (auto ok = impl_->check_default_unlocked(c); !ok) {
                return ok.error();
            }
            return keys;
        });
}

store_result<void> secret_service_store::ping() {
    return impl_->run<void>("checking the service", [&](GCancellable* c) -> store_result<void> {
        // Answered by the daemon's main loop (unlike org.freedesktop.DBus.Peer,
        // which GDBus answers from its own thread even when the loop is stuck).
        GDBusProxy* proxy = G_DBUS_PROXY(impl_->service);
        gerror err;
        GVariant* reply = g_dbus_connection_call_sync(
            g_dbus_proxy_get_connection(proxy), g_dbus_proxy_get_name(proxy), service_path,
            "org.freedesktop.DBus.Properties", "Get",
            g_variant_new("(ss)", service_interface, "Collections"), G_VARIANT_TYPE("(v)"),
            G_DBUS_CALL_FLAGS_NONE, timeout_ms(impl_->deadline), c, err.out());
        if (reply == nullptr) {
            return to_store_error(err.e, c, impl_->deadline, "checking the service");
        }
        g_variant_unref(reply);
        return {};
    });
}

std::unique_ptr<secret_store> make_secret_service_store(std::chrono::milliseconds deadline) {
    return std::make_unique<secret_service_store>(deadline);
}

}  // namespace avn::platform
