#include <cstring>

#include "platform/result.hpp"

namespace avn::platform {

os_error errno_error(const std::string& what, int err) {
    return os_error{what + ": " + std::strerror(err), err};
}

}  // namespace avn::platform
