#include "core/interrupt.h"

#include <atomic>
#include <csignal>
#include <unistd.h>

namespace tessera {

namespace {
std::atomic<int> g_signals{0};

void on_signal(int) {
  if (g_signals.fetch_add(1) >= 1) {
    const char msg[] = "\ninterrupted twice, exiting now\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    ::_exit(130);
  }
}
}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_signals.load() > 0; }
void clear_interrupt() { g_signals.store(0); }

}  // namespace tessera
