// Cooperative Ctrl-C handling for long-running commands: the first SIGINT/SIGTERM sets a
// flag that loops check at safe points (a step, a window); a second one exits at once.
#pragma once

namespace tessera {

void install_interrupt_handler();
bool interrupted();
void clear_interrupt();  // for tests

}  // namespace tessera
