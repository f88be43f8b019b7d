/* An LD_PRELOAD shim that turns a SIGKILL into a power cut for the files under
 * $TESSERA_POWERCUT_DIR: writes, truncations and renames there reach the real files
 * only when they are synced (fsync or fdatasync of the file; fsync of the directory for
 * a rename), so whatever the process had not synced when it dies is lost, as the page
 * cache would be. bench/chain_crash runs the chain node under it.
 *
 * Model and limits: file creation and O_TRUNC at open take effect at once; a close()
 * drops the file's unsynced writes (and says so on stderr); reads are not intercepted, so
 * a process must not read back what it wrote without syncing (the node never does). Only
 * what a crash-safe program needs is covered: open/openat/creat, write/pwrite, lseek,
 * ftruncate, fsync/fdatasync, close, rename/renameat. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FDS 4096
#define MAX_RENAMES 256

enum op_kind { OP_WRITE, OP_TRUNCATE };
struct op {
  enum op_kind kind;
  off_t offset; /* write offset, or the length to truncate to */
  size_t len;
  char* data;
  struct op* next;
};
struct tracked {
  int active, is_dir, append;
  char path[PATH_MAX];
  off_t offset, size;  /* the file as the process sees it */
  struct op *head, *tail;
};
struct rename_op {
  char from[PATH_MAX], to[PATH_MAX];
};

static struct tracked files[MAX_FDS];
static struct rename_op renames[MAX_RENAMES];
static int n_renames;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char watched[PATH_MAX];
static int watching = -1;

#define REAL(name, ret, ...) \
  static ret (*real_##name)(__VA_ARGS__); \
  if (!real_##name) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static int under_watch(const char* path, char* absolute) {
  if (watching < 0) {
    const char* dir = getenv("TESSERA_POWERCUT_DIR");
    watching = dir != NULL && realpath(dir, watched) != NULL;
  }
  if (!watching) return 0;
  char dir[PATH_MAX];
  /* The file may not exist yet: resolve its directory. */
  strncpy(dir, path, sizeof dir - 1);
  dir[sizeof dir - 1] = 0;
  char* slash = strrchr(dir, '/');
  const char* base = path;
  char resolved[PATH_MAX];
  if (slash) {
    *slash = 0;
    base = slash + 1;
    if (realpath(dir[0] ? dir : "/", resolved) == NULL) return 0;
  } else if (getcwd(resolved, sizeof resolved) == NULL) {
    return 0;
  }
  if (base[0] == 0 || strcmp(base, ".") == 0) {
    snprintf(absolute, PATH_MAX, "%s", resolved);
  } else {
    snprintf(absolute, PATH_MAX, "%s/%s", resolved, base);
  }
  const size_t n = strlen(watched);
  return strncmp(absolute, watched, n) == 0 && (absolute[n] == 0 || absolute[n] == '/');
}

static void drop_ops(struct tracked* t) {
  for (struct op* o = t->head; o;) {
    struct op* next = o->next;
    free(o->data);
    free(o);
    o = next;
  }
  t->head = t->tail = NULL;
}

static void track(int fd, const char* absolute, int flags) {
  if (fd < 0 || fd >= MAX_FDS) return;
  struct stat st;
  struct tracked* t = &files[fd];
  pthread_mutex_lock(&mu);
  drop_ops(t);
  t->active = 1;
  t->is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  t->append = (flags & O_APPEND) != 0;
  snprintf(t->path, sizeof t->path, "%s", absolute);
  t->size = t->is_dir ? 0 : st.st_size;
  t->offset = 0;
  pthread_mutex_unlock(&mu);
}

static int open_common(int dirfd, const char* path, int flags, mode_t mode) {
  REAL(openat, int, int, const char*, int, ...);
  const int fd = real_openat(dirfd, path, flags, mode);
  char absolute[PATH_MAX];
  if (fd >= 0 && (dirfd == AT_FDCWD || path[0] == '/') && under_watch(path, absolute)) track(fd, absolute, flags);
  return fd;
}

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  return open_common(AT_FDCWD, path, flags, mode);
}
int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  return open_common(AT_FDCWD, path, flags, mode);
}
int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  return open_common(dirfd, path, flags, mode);
}
int creat(const char* path, mode_t mode) { return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode); }

static ssize_t record_write(int fd, const void* buf, size_t n, off_t at, int use_at) {
  struct tracked* t = &files[fd];
  struct op* o = calloc(1, sizeof *o);
  o->kind = OP_WRITE;
  o->offset = use_at ? at : (t->append ? t->size : t->offset);
  o->len = n;
  o->data = malloc(n ? n : 1);
  memcpy(o->data, buf, n);
  if (t->tail) t->tail->next = o; else t->head = o;
  t->tail = o;
  if (o->offset + (off_t)n > t->size) t->size = o->offset + (off_t)n;
  if (!use_at) t->offset = o->offset + (off_t)n;
  return (ssize_t)n;
}

ssize_t write(int fd, const void* buf, size_t n) {
  REAL(write, ssize_t, int, const void*, size_t);
  if (fd >= 0 && fd < MAX_FDS && files[fd].active && !files[fd].is_dir) {
    pthread_mutex_lock(&mu);
    const ssize_t r = record_write(fd, buf, n, 0, 0);
    pthread_mutex_unlock(&mu);
    return r;
  }
  return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t at) {
  REAL(pwrite, ssize_t, int, const void*, size_t, off_t);
  if (fd >= 0 && fd < MAX_FDS && files[fd].active && !files[fd].is_dir) {
    pthread_mutex_lock(&mu);
    const ssize_t r = record_write(fd, buf, n, at, 1);
    pthread_mutex_unlock(&mu);
    return r;
  }
  return real_pwrite(fd, buf, n, at);
}
ssize_t pwrite64(int fd, const void* buf, size_t n, off_t at) { return pwrite(fd, buf, n, at); }

off_t lseek(int fd, off_t offset, int whence) {
  REAL(lseek, off_t, int, off_t, int);
  if (fd >= 0 && fd < MAX_FDS && files[fd].active && !files[fd].is_dir) {
    pthread_mutex_lock(&mu);
    struct tracked* t = &files[fd];
    const off_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? t->offset : t->size;
    t->offset = base + offset;
    const off_t r = t->offset;
    pthread_mutex_unlock(&mu);
    return r;
  }
  return real_lseek(fd, offset, whence);
}
off_t lseek64(int fd, off_t offset, int whence) { return lseek(fd, offset, whence); }

int ftruncate(int fd, off_t len) {
  REAL(ftruncate, int, int, off_t);
  if (fd >= 0 && fd < MAX_FDS && files[fd].active && !files[fd].is_dir) {
    pthread_mutex_lock(&mu);
    struct tracked* t = &files[fd];
    struct op* o = calloc(1, sizeof *o);
    o->kind = OP_TRUNCATE;
    o->offset = len;
    if (t->tail) t->tail->next = o; else t->head = o;
    t->tail = o;
    t->size = len;
    pthread_mutex_unlock(&mu);
    return 0;
  }
  return real_ftruncate(fd, len);
}
int ftruncate64(int fd, off_t len) { return ftruncate(fd, len); }

/* Applies the file's pending operations, or the directory's pending renames. */
static int flush(int fd) {
  REAL(pwrite, ssize_t, int, const void*, size_t, off_t);
  REAL(ftruncate, int, int, off_t);
  REAL(rename, int, const char*, const char*);
  struct tracked* t = &files[fd];
  if (t->is_dir) {
    int kept = 0;
    for (int i = 0; i < n_renames; ++i) {
      char dir[PATH_MAX];
      snprintf(dir, sizeof dir, "%s", renames[i].to);
      char* slash = strrchr(dir, '/');
      if (slash) *slash = 0;
      if (strcmp(dir, t->path) == 0) {
        if (real_rename(renames[i].from, renames[i].to) != 0) return -1;
      } else {
        renames[kept++] = renames[i];
      }
    }
    n_renames = kept;
    return 0;
  }
  for (struct op* o = t->head; o; o = o->next) {
    if (o->kind == OP_TRUNCATE) {
      if (real_ftruncate(fd, o->offset) != 0) return -1;
      continue;
    }
    size_t done = 0;
    while (done < o->len) {
      const ssize_t w = real_pwrite(fd, o->data + done, o->len - done, o->offset + (off_t)done);
      if (w < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      done += (size_t)w;
    }
  }
  drop_ops(t);
  return 0;
}

int fsync(int fd) {
  REAL(fsync, int, int);
  if (fd >= 0 && fd < MAX_FDS && files[fd].active) {
    pthread_mutex_lock(&mu);
    const int r = flush(fd);
    pthread_mutex_unlock(&mu);
    if (r != 0) return r;
  }
  return real_fsync(fd);
}

int fdatasync(int fd) {
  REAL(fdatasync, int, int);
  if (fd >= 0 && fd < MAX_FDS && files[fd].active) {
    pthread_mutex_lock(&mu);
    const int r = flush(fd);
    pthread_mutex_unlock(&mu);
    if (r != 0) return r;
  }
  return real_fdatasync(fd);
}

int close(int fd) {
  REAL(close, int, int);
  if (fd >= 0 && fd < MAX_FDS && files[fd].active) {
    pthread_mutex_lock(&mu);
    size_t unsynced = 0;
    for (struct op* o = files[fd].head; o; o = o->next) unsynced += o->len;
    if (unsynced > 0) fprintf(stderr, "powercut: close() of %s drops %zu unsynced bytes\n", files[fd].path, unsynced);
    drop_ops(&files[fd]);
    files[fd].active = 0;
    pthread_mutex_unlock(&mu);
  }
  return real_close(fd);
}

static int rename_common(int olddirfd, const char* from, int newdirfd, const char* to) {
  REAL(renameat, int, int, const char*, int, const char*);
  char a[PATH_MAX], b[PATH_MAX];
  if (olddirfd == AT_FDCWD && newdirfd == AT_FDCWD && under_watch(to, b) && under_watch(from, a)) {
    pthread_mutex_lock(&mu);
    if (n_renames == MAX_RENAMES) {
      pthread_mutex_unlock(&mu);
      errno = ENOSPC;
      return -1;
    }
    snprintf(renames[n_renames].from, PATH_MAX, "%s", a);
    snprintf(renames[n_renames].to, PATH_MAX, "%s", b);
    ++n_renames;
    pthread_mutex_unlock(&mu);
    return 0;
  }
  return real_renameat(olddirfd, from, newdirfd, to);
}
int rename(const char* from, const char* to) { return rename_common(AT_FDCWD, from, AT_FDCWD, to); }
int renameat(int olddirfd, const char* from, int newdirfd, const char* to) {
  return rename_common(olddirfd, from, newdirfd, to);
}
