// Runs secret-store calls off the event loop. A keyring call can block for
// its whole deadline (a hung or locked daemon); one worker thread takes it
// so the loop keeps serving clients. Calls are serialised on that thread,
// which is what the backends require.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <string_view>

#include "platform/store.hpp"

namespace avn::agent {

namespace asio = boost::asio;

class store_runner {
  public:
    /// `loop` is the event loop's executor: results are delivered there.
    store_runner(asio::any_io_executor loop, std::unique_ptr<platform::secret_store> store)
        : loop_(std::move(loop)), store_(std::move(store)) {}
    ~store_runner() { pool_.join(); }
    store_runner(const store_runner&) = delete;
    store_runner& operator=(const store_runner&) = delete;

    /// Runs `f(store)` on the worker thread; the caller resumes on the loop
    /// with f's result.
    ///
    /// Pass `f` as a named variable, not a lambda written in the co_await
    /// expression: GCC 12 destroys such a closure temporary twice.
    template <class F>
    auto run(F f) -> asio::awaitable<decltype(f(std::declval<platform::secret_store&>()))> {
        using R = decltype(f(std::declval<platform::secret_store&>()));
        // `f` lives in this coroutine's frame until the result is back, so
        // the worker may use it by reference.
        co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(R)>(
            [this, &f](auto handler) {
                asio::post(pool_, [this, &f, handler = std::move(handler)]() mutable {
                    R r = f(*store_);
                    asio::post(loop_, [handler = std::move(handler), r = std::move(r)]() mutable {
                        std::move(handler)(std::move(r));
                    });
                });
            },
            asio::use_awaitable);
    }

    [[nodiscard]] std::string_view backend() const noexcept { return store_->backend(); }

  private:
    asio::any_io_executor loop_;
    std::unique_ptr<platform::secret_store> store_;
    asio::thread_pool pool_{1};
};

}  // namespace avn::agent
