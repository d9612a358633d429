// Maps request ops to their handlers and implements the agent's own ops
// (hello, status, shutdown). Later components register their ops here.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "agent/server.hpp"

namespace avn::agent {

class dispatcher {
  public:
    explicit dispatcher(server& srv);

    /// Registers `op`; a later registration of the same name replaces it.
    void add(std::string op, request_handler h);
    /// Adds a member to every `status` reply (e.g. "session", "keyring").
    void add_status_section(std::string name, std::function<boost::json::value()> f);

    /// Routes one request. Unknown ops answer `unknown_op`.
    asio::awaitable<outcome> handle(protocol::request& req, const client_info& client);

    [[nodiscard]] std::vector<std::string> ops() const;

  private:
    outcome hello() const;
    outcome status() const;
    outcome shutdown(const client_info& client);

    server& srv_;
    std::map<std::string, request_handler, std::less<>> handlers_;
    std::vector<std::pair<std::string, std::function<boost::json::value()>>> status_sections_;
    std::chrono::system_clock::time_point started_wall_ = std::chrono::system_clock::now();
};

}  // namespace avn::agent
