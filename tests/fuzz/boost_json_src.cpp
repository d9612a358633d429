// Boost.JSON compiled into the fuzz target, instrumented like our code.
#include <boost/json/src.hpp>
