// fileio.cpp: read_file and write_file_atomic over POSIX open/read/write/fsync/rename.
// Not portable to Windows as written.
#include "engine/fileio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "engine/common.h"

namespace electra {

[[noreturn]] static void fail(const std::string& path, const char* doing, int err) {
  throw Error(path + ": " + doing + ": " + std::strerror(err));
}

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot read", errno);
  struct stat st;
  std::string out;
  // One spare byte past the expected size, so the read that sees end-of-file needs no regrowth.
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) out.resize((size_t)st.st_size + 1);
  size_t n = 0;
  for (;;) {
    if (n == out.size()) out.resize(out.size() < 65536 ? 65536 : out.size() * 2);
    ssize_t r = ::read(fd, &out[n], out.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      ::close(fd);
      fail(path, "cannot read", e);
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  ::close(fd);
  out.resize(n);
  return out;
}

static std::string random_suffix() {
  static std::atomic<uint64_t> counter{0};
  uint64_t x = (uint64_t)std::chrono::steady_clock::now().time_since_epoch().count() ^
               (++counter * 0x9E3779B97F4A7C15ull);
  x ^= x >> 30, x *= 0xBF58476D1CE4E5B9ull, x ^= x >> 27, x *= 0x94D049BB133111EBull, x ^= x >> 31;
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 12; i++, x >>= 4) s += hex[x & 15];
  return s;
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  write_file_atomic(path, std::vector<std::string_view>{bytes});
}

void write_file_atomic(const std::string& path, const std::vector<std::string_view>& parts) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 16; attempt++) {
    tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + random_suffix();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) fail(path, "cannot write (creating a temporary file in the same directory)", errno);

  auto abandon = [&](const char* doing, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    fail(path, doing, err);
  };
  for (std::string_view part : parts) {
    const char* p = part.data();
    size_t left = part.size();
    while (left > 0) {
      ssize_t w = ::write(fd, p, left < (1u << 30) ? left : (1u << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) abandon("cannot write", errno);
      p += w, left -= (size_t)w;
    }
  }
  if (::fsync(fd) != 0) abandon("cannot write (fsync)", errno);
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) abandon("cannot write (close)", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) abandon("cannot write (renaming the temporary file into place)", errno);

  // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL): the file
  // is in place, so that is not an error.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int r = ::fsync(dfd), e = errno;
    ::close(dfd);
    if (r != 0 && e != EINVAL && e != ENOTSUP) fail(path, "written, but syncing its directory failed", e);
  }
}

}  // namespace electra
