// The least an external git credential helper can do: read git's request to
// the end and answer a fixed username and password. bench/run.sh installs it
// as `git-credential-floor` to measure what `credential.helper=NAME` costs
// git itself, whatever the helper does.
#include <unistd.h>

int main() {
    char buf[4096];
    while (::read(0, buf, sizeof buf) > 0) {
    }
    static const char answer[] = "username=floor\npassword=floor\n";
    return ::write(1, answer, sizeof answer - 1) == static_cast<ssize_t>(sizeof answer - 1) ? 0 : 1;
}
