/* Writes "hello" to a file the way the node writes, then dies with SIGKILL — run under the
 * power-cut shim by tests/chain/crash_test.cpp to show what survives.
 *   powercut_probe DIR nosync        write, no sync
 *   powercut_probe DIR sync          write, fdatasync
 *   powercut_probe DIR rename        write + fsync a temp file, rename it, no directory fsync
 *   powercut_probe DIR rename-sync   the same, then fsync the directory */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  char path[4096], tmp[4096];
  snprintf(path, sizeof path, "%s/file", argv[1]);
  snprintf(tmp, sizeof tmp, "%s/file.tmp", argv[1]);
  const int renaming = strncmp(argv[2], "rename", 6) == 0;
  const int fd = open(renaming ? tmp : path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, "hello", 5) != 5) return 3;
  if (strcmp(argv[2], "nosync") != 0 && fdatasync(fd) != 0) return 4;
  if (renaming) {
    if (close(fd) != 0 || rename(tmp, path) != 0) return 5;
    if (strcmp(argv[2], "rename-sync") == 0) {
      const int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
      if (dir < 0 || fsync(dir) != 0) return 6;
    }
  }
  kill(getpid(), SIGKILL);
  return 7;
}
