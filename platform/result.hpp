// Errors as values for OS-level operations.
#pragma once

#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>

namespace avn::platform {

/// A failure with a complete one-line message for a person: what went wrong
/// and, where there is one, the fix.
struct os_error {
    std::string message;
    int sys_errno = 0;  ///< the errno behind it, 0 when none
};

/// Called by boost::system::result<T, os_error>::value() on an error.
[[noreturn]] inline void throw_exception_from_error(const os_error& e,
                                                    const boost::source_location&) {
    throw std::runtime_error(e.message);
}

template <class T>
using result = boost::system::result<T, os_error>;

/// "what: strerror(err)".
os_error errno_error(const std::string& what, int err);

}  // namespace avn::platform
