// fileio.h: whole-file read and crash-safe (atomic) write helpers shared by the engine (POSIX).
// Not a buffered stream API and not memory-mapped I/O.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace electra {

// Writes `bytes` to `path` atomically: writes "<path>.tmp-<pid>-<random>" in the same directory,
// fsyncs it, renames it over `path`, fsyncs the directory. On any failure (ENOSPC, EACCES, ...)
// removes the temporary file and throws electra::Error naming the path and strerror; `path` then
// still holds its previous contents (or does not exist). New files get mode 0666 & ~umask.
void write_file_atomic(const std::string& path, std::string_view bytes);
// Same, for a file made of several pieces written back to back (no copy into one buffer).
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& parts);

// The whole file; throws Error("<path>: cannot read: <strerror>").
std::string read_file(const std::string& path);

}  // namespace electra
